import copy

import numpy as np
# you should write your functions in nn.py
from nn import *
from util import *

# fake data: four Gaussian classes in 2-D
g0 = np.random.multivariate_normal([3.6, 40], [[0.05, 0], [0, 10]], 10)
g1 = np.random.multivariate_normal([3.9, 10], [[0.01, 0], [0, 5]], 10)
g2 = np.random.multivariate_normal([3.4, 30], [[0.25, 0], [0, 5]], 10)
g3 = np.random.multivariate_normal([2.0, 10], [[0.5, 0], [0, 10]], 10)
x = np.vstack([g0, g1, g2, g3])
# we will do XW + B, so the data is N x D

# create labels, one-hot
y_idx = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10)
y = np.zeros((y_idx.shape[0], y_idx.max() + 1))
y[np.arange(y_idx.shape[0]), y_idx] = 1

# parameters in a dictionary
params = {}

# Q 1.1.2
initialize_weights(2, 25, params, 'layer1')
initialize_weights(25, 4, params, 'output')
assert params['Wlayer1'].shape == (2, 25)
assert params['blayer1'].shape == (25,)
# expect 0, [0.05 to 0.12]
print("{}, {:.2f}".format(params['blayer1'].sum(), params['Wlayer1'].std() ** 2))
print("{}, {:.2f}".format(params['boutput'].sum(), params['Woutput'].std() ** 2))

# Q 1.2.1
test = sigmoid(np.array([-1000, 1000]))
print('should be zero and one\t', test.min(), test.max())
h1 = forward(x, params, 'layer1')
print(h1.shape)
# Q 1.2.4
probs = forward(h1, params, 'output', softmax)
# positive, ~1, ~1, (40,4)
print(probs.min(), min(probs.sum(1)), max(probs.sum(1)), probs.shape)

# Q 1.2.5
loss, acc = compute_loss_and_acc(y, probs)
# should be around -np.log(0.25)*40 [~55] and 0.25
print("{}, {:.2f}".format(loss, acc))

# the derivative of cross-entropy(softmax(x)) is probs - 1[correct actions]
delta1 = probs - y
delta2 = backwards(delta1, params, 'output', linear_deriv)
backwards(delta2, params, 'layer1', sigmoid_deriv)

# W and b should match their gradients' sizes
for k, v in sorted(list(params.items())):
    if 'grad' in k:
        name = k.split('_')[1]
        print(name, v.shape, params[name].shape)

# Q 1.4.1
batches = get_random_batches(x, y, 5)
print([b[0].shape[0] for b in batches])
batch_num = len(batches)


def apply_gradients(params, learning_rate):
    for k in [k for k in params if '_' not in k]:
        params[k] -= learning_rate * params['grad_' + k]


# Q 1.4.1 training loop
max_iters = 500
learning_rate = 1e-3
# with default settings, you should get loss < 35 and accuracy > 75%
for itr in range(max_iters):
    total_loss = 0
    avg_acc = 0
    for xb, yb in batches:
        h1 = forward(xb, params, 'layer1')
        probs = forward(h1, params, 'output', softmax)
        loss, acc = compute_loss_and_acc(yb, probs)
        total_loss += loss
        avg_acc += acc
        delta2 = backwards(probs - yb, params, 'output', linear_deriv)
        backwards(delta2, params, 'layer1', sigmoid_deriv)
        apply_gradients(params, learning_rate)
    avg_acc /= batch_num
    if itr % 100 == 0:
        print("itr: {:02d} \t loss: {:.2f} \t acc : {:.2f}".format(itr, total_loss, avg_acc))


# Q 1.5.1 numerical gradient check, on the whole toy set
def loss_of(params):
    h1 = forward(x, params, 'layer1')
    probs = forward(h1, params, 'output', softmax)
    return compute_loss_and_acc(y, probs)[0]


# before starting, keep the parameters and the gradients computed so far
params_orig = copy.deepcopy(params)

# STEP1: numerical gradients, central differences, into params_eps
params_eps = {}
eps = 1e-6
for k, v in params.items():
    if '_' in k:
        continue
    # a real parameter: perturb each scalar in turn
    grad_v = np.zeros_like(v)
    for idx in np.ndindex(v.shape):
        original = v[idx]
        v[idx] = original + eps
        loss_plus = loss_of(params)
        v[idx] = original - eps
        loss_minus = loss_of(params)
        v[idx] = original
        grad_v[idx] = (loss_plus - loss_minus) / (2 * eps)
    params_eps['grad_' + k] = grad_v

# STEP2: analytic gradients of params_orig, at the same weights, on the same data
h1 = forward(x, params_orig, 'layer1')
probs = forward(h1, params_orig, 'output', softmax)
delta2 = backwards(probs - y, params_orig, 'output', linear_deriv)
backwards(delta2, params_orig, 'layer1', sigmoid_deriv)

# STEP3: the gaps between numerical and analytical gradients
total_error = 0
for k in params.keys():
    if 'grad_' in k:
        # relative error
        err = np.abs(params_eps[k] - params_orig[k]) / np.maximum(np.abs(params_eps[k]), np.abs(params_orig[k]))
        err = err.sum()
        print('{} {:.2e}'.format(k, err))
        total_error += err
# should be less than 1e-4
print('total {:.2e}'.format(total_error))
