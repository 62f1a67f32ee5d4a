import pickle
import string

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import scipy.io
from mpl_toolkits.axes_grid1 import ImageGrid

from nn import *

train_data = scipy.io.loadmat('../data/nist36_train.mat')
valid_data = scipy.io.loadmat('../data/nist36_valid.mat')

train_x, train_y = train_data['train_data'], train_data['train_labels']
valid_x, valid_y = valid_data['valid_data'], valid_data['valid_labels']

max_iters = 30
# pick a batch size, learning rate
batch_size = 32
learning_rate = 5e-3
hidden_size = 64

batches = get_random_batches(train_x, train_y, batch_size)
batch_num = len(batches)


def evaluate(x, y, params):
    h1 = forward(x, params, 'layer1')
    probs = forward(h1, params, 'output', softmax)
    loss, acc = compute_loss_and_acc(y, probs)
    return loss / x.shape[0], acc, probs


params = {}
initialize_weights(1024, hidden_size, params, 'layer1')
initialize_weights(hidden_size, 36, params, 'output')
initial_W = params['Wlayer1'].copy()

history = {'train_loss': [], 'train_acc': [], 'valid_loss': [], 'valid_acc': []}
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
    valid_loss, valid_acc, _ = evaluate(valid_x, valid_y, params)
    history['train_loss'].append(total_loss / train_x.shape[0])
    history['train_acc'].append(total_acc / train_x.shape[0])
    history['valid_loss'].append(valid_loss)
    history['valid_acc'].append(valid_acc)
    if itr % 2 == 0:
        print("itr: {:02d} \t loss: {:.2f} \t acc : {:.2f} \t valid acc: {:.2f}".format(
            itr, total_loss, history['train_acc'][-1], valid_acc))

# run on validation set and report accuracy! should be above 75%
print('Validation accuracy: ', history['valid_acc'][-1])

# Q3.1.1 two plots: accuracy and average cross-entropy per epoch, train and validation
epochs = np.arange(1, max_iters + 1)
for key, label in (('acc', 'accuracy'), ('loss', 'cross-entropy (mean)')):
    plt.figure()
    plt.plot(epochs, history['train_' + key], label='train')
    plt.plot(epochs, history['valid_' + key], label='validation')
    plt.xlabel('epoch')
    plt.ylabel(label)
    plt.legend()
    plt.savefig('q3_{}.png'.format(key))
    plt.close()

saved_params = {k: v for k, v in params.items() if '_' not in k}
with open('q3_weights.pickle', 'wb') as handle:
    pickle.dump(saved_params, handle, protocol=pickle.HIGHEST_PROTOCOL)

# Q3.1.3 first-layer weights, after initialisation and after training
for name, W in (('initial', initial_W), ('learned', params['Wlayer1'])):
    fig = plt.figure(figsize=(8, 8))
    grid = ImageGrid(fig, 111, nrows_ncols=(8, 8), axes_pad=0.05)
    for i, ax in enumerate(grid):
        ax.imshow(W[:, i].reshape(32, 32).T, cmap='gray')
        ax.axis('off')
    plt.savefig('q3_weights_{}.png'.format(name))
    plt.close()

# Q3.1.4 confusion matrix on the validation set
_, _, probs = evaluate(valid_x, valid_y, params)
confusion_matrix = np.zeros((train_y.shape[1], train_y.shape[1]))
for t, p in zip(np.argmax(valid_y, axis=1), np.argmax(probs, axis=1)):
    confusion_matrix[t, p] += 1
plt.figure(figsize=(8, 8))
plt.imshow(confusion_matrix, interpolation='nearest')
plt.grid(True)
plt.xticks(np.arange(36), string.ascii_uppercase[:26] + ''.join([str(_) for _ in range(10)]))
plt.yticks(np.arange(36), string.ascii_uppercase[:26] + ''.join([str(_) for _ in range(10)]))
plt.savefig('q3_confusion.png')
plt.close()
