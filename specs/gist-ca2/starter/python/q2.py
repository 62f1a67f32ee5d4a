import numpy as np
import scipy.io
from nn import *

# load dataset
train_data = scipy.io.loadmat('../data/train.mat')
valid_data = scipy.io.loadmat('../data/valid.mat')
train_x, train_y = train_data['train_data'], train_data['train_labels']
valid_x, valid_y = valid_data['valid_data'], valid_data['valid_labels']


# Q 2.1.1 implement train(...) and check the validation accuracy
def train(max_iters=50, learning_rate=1e-3, batch_size=400, validation=False, pretrained=False):
    batches = get_random_batches(train_x, train_y, batch_size)
    batch_num = len(batches)

    # initialize params
    params = None

    for itr in range(max_iters):
        total_loss = 0
        total_acc = 0
        for xb, yb in batches:
            pass
            # the training loop of q1

        if itr % 2 == 1:
            print("itr: {:02d} \t loss: {:.2f} \t acc : {:.3f}".format(itr, total_loss, total_acc))


max_iters = 50
# pick the best batch size, learning rate
batch_size = None
learning_rate = None
hidden_size = 64

params, _, _ = train(max_iters, learning_rate, batch_size)

# should be above 75%
valid_acc = None
print('Validation accuracy: ', valid_acc)

import pickle
saved_params = {k: v for k, v in params.items() if '_' not in k}
with open('q3_weights.pickle', 'wb') as handle:
    pickle.dump(saved_params, handle, protocol=pickle.HIGHEST_PROTOCOL)

# Q 2.1.2 accuracy and loss plots
# Q 2.1.3 best, 10x and 0.1x learning rates
# Q 2.1.4 first-layer weights (ImageGrid)
# Q 2.1.5 confusion matrix, with and without the correct cases
# Q 2.2.1, Q 2.2.2 PyTorch
