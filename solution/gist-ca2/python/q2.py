import pickle
import string

import matplotlib.pyplot as plt
import numpy as np
import scipy.io
from mpl_toolkits.axes_grid1 import ImageGrid

from nn import *

# load dataset
train_data = scipy.io.loadmat('../data/train.mat')
valid_data = scipy.io.loadmat('../data/valid.mat')
train_x, train_y = train_data['train_data'], train_data['train_labels']
valid_x, valid_y = valid_data['valid_data'], valid_data['valid_labels']

hidden_size = 64
LABELS = string.ascii_uppercase + string.digits


def evaluate(x, y, params):
    """Mean cross-entropy, accuracy and probabilities of the network on (x, y)."""
    h1 = forward(x, params, 'layer1')
    probs = forward(h1, params, 'output', softmax)
    loss, acc = compute_loss_and_acc(y, probs)
    return loss / x.shape[0], acc, probs


# Q 2.1.1
def train(max_iters=50, learning_rate=1e-3, batch_size=400, validation=False, pretrained=False):
    """Train the 1024-64-36 network; returns (params, [train_losses, valid_losses],
    [train_accs, valid_accs]), one entry per epoch (the valid lists are empty without validation)."""
    if pretrained:
        with open('q3_weights.pickle', 'rb') as handle:
            params = dict(pickle.load(handle))
    else:
        params = {}
        initialize_weights(train_x.shape[1], hidden_size, params, 'layer1')
        initialize_weights(hidden_size, train_y.shape[1], params, 'output')

    train_losses, train_accs, valid_losses, valid_accs = [], [], [], []
    for itr in range(max_iters):
        total_loss = 0
        total_acc = 0
        for xb, yb in get_random_batches(train_x, train_y, batch_size):
            h1 = forward(xb, params, 'layer1')
            probs = forward(h1, params, 'output', softmax)
            loss, acc = compute_loss_and_acc(yb, probs)
            total_loss += loss
            total_acc += acc * xb.shape[0]
            delta2 = backwards(probs - yb, params, 'output', linear_deriv)
            backwards(delta2, params, 'layer1', sigmoid_deriv)
            for k in ['Wlayer1', 'blayer1', 'Woutput', 'boutput']:
                params[k] -= learning_rate * params['grad_' + k]
        train_losses.append(total_loss / train_x.shape[0])
        train_accs.append(total_acc / train_x.shape[0])
        if validation:
            valid_loss, valid_acc, _ = evaluate(valid_x, valid_y, params)
            valid_losses.append(valid_loss)
            valid_accs.append(valid_acc)
        if itr % 2 == 1:
            print("itr: {:02d} \t loss: {:.2f} \t acc : {:.3f}".format(itr, total_loss, train_accs[-1]))
    return params, [train_losses, valid_losses], [train_accs, valid_accs]


max_iters = 30
# the best batch size and learning rate
batch_size = 32
learning_rate = 5e-3

params, losses, accs = train(max_iters, learning_rate, batch_size, validation=True)
valid_acc = accs[1][-1]
print('Validation accuracy: ', valid_acc)

# Save trained weights
saved_params = {k: v for k, v in params.items() if '_' not in k}
with open('q3_weights.pickle', 'wb') as handle:
    pickle.dump(saved_params, handle, protocol=pickle.HIGHEST_PROTOCOL)
print('Checkpoint is saved!')


def plot_curves(losses, accs, title):
    epochs = np.arange(1, len(losses[0]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (train_values, valid_values), label in ((left, accs, 'accuracy'), (right, losses, 'mean cross-entropy')):
        ax.plot(epochs, train_values, label='train')
        ax.plot(epochs, valid_values, label='validation')
        ax.set_xlabel('epoch')
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(title)
    plt.show()


# Q 2.1.2 accuracy and loss over the epochs
plot_curves(losses, accs, 'learning rate {:g}'.format(learning_rate))

# Q 2.1.3 ten times and a tenth of the best learning rate (fewer epochs: the shape shows early)
for rate in (learning_rate * 10, learning_rate / 10):
    _, rate_losses, rate_accs = train(10, rate, batch_size, validation=True)
    plot_curves(rate_losses, rate_accs, 'learning rate {:g}'.format(rate))

# Q 2.1.4 first-layer weights: after initialisation and after training
initial = {}
initialize_weights(train_x.shape[1], hidden_size, initial, 'layer1')
for title, W in (('after initialisation', initial['Wlayer1']), ('after training', params['Wlayer1'])):
    fig = plt.figure(figsize=(8, 8))
    grid = ImageGrid(fig, 111, nrows_ncols=(8, 8), axes_pad=0.05)
    for i, ax in enumerate(grid):
        ax.imshow(W[:, i].reshape(32, 32).T, cmap='gray')
        ax.axis('off')
    fig.suptitle(title)
    plt.show()

# Q 2.1.5 confusion matrix of the best model, with and without the correct cases
_, _, probs = evaluate(valid_x, valid_y, params)
confusion_matrix = np.zeros((train_y.shape[1], train_y.shape[1]))
for t, p in zip(np.argmax(valid_y, axis=1), np.argmax(probs, axis=1)):
    confusion_matrix[t, p] += 1
for title, matrix in (('with correct cases', confusion_matrix),
                      ('without correct cases', confusion_matrix * (1 - np.eye(len(LABELS))))):
    plt.figure(figsize=(8, 8))
    plt.imshow(matrix, interpolation='nearest')
    plt.grid(True)
    plt.xticks(np.arange(36), LABELS)
    plt.yticks(np.arange(36), LABELS)
    plt.title('confusion matrix, ' + title)
    plt.show()
