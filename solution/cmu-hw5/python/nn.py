import numpy as np
from util import *
# do not include any more libraries here!
# do not put any code outside of functions!


# Q 2.1.2
# initialize b to a 1-D zero vector; W with Xavier (Glorot) uniform: Var[W] = 2 / (in + out)
# we will do XW + b, X is [examples, dimensions]
def initialize_weights(in_size, out_size, params, name=''):
    bound = np.sqrt(6.0 / (in_size + out_size))
    params['W' + name] = np.random.uniform(-bound, bound, size=(in_size, out_size))
    params['b' + name] = np.zeros(out_size)


# Q 2.2.1
def sigmoid(x):
    # split by sign so that exp never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) otherwise
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


# Q 2.2.1
def forward(X, params, name='', activation=sigmoid):
    """
    Do a forward pass

    Keyword arguments:
    X -- input vector [Examples x D]
    params -- a dictionary containing parameters
    name -- name of the layer
    activation -- the activation function (default is sigmoid)
    """
    W = params['W' + name]
    b = params['b' + name]
    pre_act = X @ W + b
    post_act = activation(pre_act)
    # store the pre-activation and post-activation values, needed in backprop
    params['cache_' + name] = (X, pre_act, post_act)
    return post_act


# Q 2.2.2
# x is [examples, classes]; softmax of each row, with the max subtracted for stability
def softmax(x):
    shifted = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)


# Q 2.2.3
# total cross-entropy loss over the examples, and accuracy as a fraction
# y and probs are [examples, classes]
def compute_loss_and_acc(y, probs):
    loss = -np.sum(y * np.log(probs))
    acc = np.mean(np.argmax(y, axis=1) == np.argmax(probs, axis=1))
    return loss, acc


# we give this to you because you proved it; it is a function of post_act
def sigmoid_deriv(post_act):
    res = post_act * (1.0 - post_act)
    return res


# Q 2.3.1
def backwards(delta, params, name='', activation_deriv=sigmoid_deriv):
    """
    Do a backwards pass

    Keyword arguments:
    delta -- errors to backprop
    params -- a dictionary containing parameters
    name -- name of the layer
    activation_deriv -- the derivative of the activation_func
    """
    W = params['W' + name]
    X, pre_act, post_act = params['cache_' + name]
    # through the activation first, then the affine map
    delta_pre = delta * activation_deriv(post_act)
    params['grad_W' + name] = X.T @ delta_pre
    params['grad_b' + name] = np.sum(delta_pre, axis=0)
    return delta_pre @ W.T


# Q 2.4.1
# split x and y into random batches; return a list of [(batch1_x, batch1_y), ...]
def get_random_batches(x, y, batch_size):
    order = np.random.permutation(x.shape[0])
    return [(x[idx], y[idx]) for idx in np.array_split(order, range(batch_size, len(order), batch_size))]
