import string
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import scipy.io
from skimage.measure import compare_psnr as psnr

from nn import *

train_data = scipy.io.loadmat('../data/nist36_train.mat')
valid_data = scipy.io.loadmat('../data/nist36_valid.mat')

# we don't need labels now!
train_x = train_data['train_data']
valid_x = valid_data['valid_data']
valid_y = valid_data['valid_labels']

max_iters = 100
# pick a batch size, learning rate
batch_size = 36
learning_rate = 3e-5
hidden_size = 32
lr_rate = 20
batches = get_random_batches(train_x, np.ones((train_x.shape[0], 1)), batch_size)
batch_num = len(batches)

params = Counter()

# Q5.1.1 initialize layers here: 1024-32-32-32-1024
layers = [('layer1', 1024, hidden_size, relu, relu_deriv),
          ('hidden', hidden_size, hidden_size, relu, relu_deriv),
          ('hidden2', hidden_size, hidden_size, relu, relu_deriv),
          ('output', hidden_size, 1024, sigmoid, sigmoid_deriv)]
for name, n_in, n_out, _, _ in layers:
    initialize_weights(n_in, n_out, params, name)
# Q5.1.2 zero-initialised momentum accumulators, one per parameter
for k in [k for k in params if '_' not in k]:
    params['m_' + k] = np.zeros_like(params[k])


def reconstruct(x):
    for name, _, _, activation, _ in layers:
        x = forward(x, params, name, activation)
    return x


# should look like your previous training loops
losses = []
for itr in range(max_iters):
    total_loss = 0
    for xb, _ in batches:
        out = reconstruct(xb)
        # total squared error; delta is the d/dx of (x-y)^2
        total_loss += np.sum((out - xb) ** 2)
        delta = 2 * (out - xb)
        for name, _, _, _, activation_deriv in reversed(layers):
            delta = backwards(delta, params, name, activation_deriv)
        # momentum: M = 0.9 M - lr dJ/dW, W = W + M
        for k in [k for k in params if k.startswith('grad_')]:
            name = k[len('grad_'):]
            params['m_' + name] = 0.9 * params['m_' + name] - learning_rate * params[k]
            params[name] += params['m_' + name]
    losses.append(total_loss)
    if itr % 2 == 0:
        print("itr: {:02d} \t loss: {:.2f}".format(itr, total_loss))
    if itr % lr_rate == lr_rate - 1:
        learning_rate *= 0.9

# Q5.2 training loss curve
plt.figure()
plt.plot(np.arange(1, max_iters + 1), losses)
plt.xlabel('epoch')
plt.ylabel('total squared error')
plt.title('autoencoder training loss')
plt.savefig('q5_loss.png')
plt.show()

# Q5.3.1 two validation images of five classes and their reconstructions
recon_valid = reconstruct(valid_x)
classes = [0, 7, 18, 27, 33]
labels = string.ascii_uppercase + string.digits
fig, axes = plt.subplots(len(classes), 4, figsize=(6, 8))
for row, c in zip(axes, classes):
    picks = np.flatnonzero(valid_y[:, c] == 1)[:2]
    for j, i in enumerate(picks):
        row[2 * j].imshow(valid_x[i].reshape(32, 32).T, cmap='gray')
        row[2 * j + 1].imshow(recon_valid[i].reshape(32, 32).T, cmap='gray')
    row[0].set_ylabel(labels[c])
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle('validation images and their reconstructions')
plt.savefig('q5_reconstructions.png')
plt.show()

# Q5.3.2 average PSNR over the validation set
psnr_avg = np.mean([psnr(x, y) for x, y in zip(valid_x, recon_valid)])
print('average validation PSNR: {:.2f} dB'.format(psnr_avg))
