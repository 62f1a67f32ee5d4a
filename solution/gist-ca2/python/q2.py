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

# Q 2.2 PyTorch: the same data as tensors; training accuracy counted on the batches as they train
import torch
from torch import nn

torch.manual_seed(0)
torch_train_x = torch.tensor(train_x, dtype=torch.float32)
torch_train_y = torch.tensor(np.argmax(train_y, axis=1))
torch_valid_x = torch.tensor(valid_x, dtype=torch.float32)
torch_valid_y = torch.tensor(np.argmax(valid_y, axis=1))


def torch_accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(1) == y).float().mean().item()
    model.train()
    return correct


def torch_train(model, x, epochs, batch_size, learning_rate, valid_x):
    """Adam on the mean cross-entropy; per-epoch training loss and accuracy, validation accuracy."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = {'loss': [], 'train_acc': [], 'valid_acc': []}
    for epoch in range(epochs):
        order = torch.randperm(len(x))
        total, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            scores = model(x[idx])
            loss = nn.functional.cross_entropy(scores, torch_train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += (scores.argmax(1) == torch_train_y[idx]).sum().item()
        history['loss'].append(total / len(x))
        history['train_acc'].append(correct / len(x))
        history['valid_acc'].append(torch_accuracy(model, valid_x, torch_valid_y))
        print('epoch {:2d}  loss {:.4f}  train acc {:.3f}  valid acc {:.3f}'.format(
            epoch + 1, history['loss'][-1], history['train_acc'][-1], history['valid_acc'][-1]))
    return history


def plot_history(history, title):
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history['loss']) + 1)
    left.plot(epochs, history['train_acc'], label='train')
    left.plot(epochs, history['valid_acc'], label='validation')
    left.set_xlabel('epoch')
    left.set_ylabel('accuracy')
    left.legend()
    right.plot(epochs, history['loss'])
    right.set_xlabel('epoch')
    right.set_ylabel('mean cross-entropy')
    fig.suptitle(title)
    plt.show()


# Q 2.2.1 the fully connected network of Q2.1 (1024-64-36, sigmoid hidden layer)
fc_model = nn.Sequential(nn.Linear(1024, hidden_size), nn.Sigmoid(), nn.Linear(hidden_size, 36))
fc_history = torch_train(fc_model, torch_train_x, 15, 32, 1e-3, torch_valid_x)
plot_history(fc_history, 'Q2.2.1 fully connected network in PyTorch')

# Q 2.2.2 a convolutional network; the rows are 32x32 images stored column-major, hence the transpose
def as_images(x):
    return x.reshape(-1, 1, 32, 32).transpose(2, 3)


cnn_model = nn.Sequential(
    nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),      # 8 x 16 x 16
    nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),     # 16 x 8 x 8
    nn.Flatten(), nn.Linear(16 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 36))
cnn_history = torch_train(cnn_model, as_images(torch_train_x), 4, 64, 2e-3, as_images(torch_valid_x))
plot_history(cnn_history, 'Q2.2.2 convolutional network in PyTorch')
