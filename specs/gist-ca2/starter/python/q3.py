import numpy as np
import scipy.io
from nn import *
from collections import Counter

train_data = scipy.io.loadmat('../data/train.mat')
valid_data = scipy.io.loadmat('../data/valid.mat')
# we don't need labels now!
train_x = train_data['train_data']
valid_x = valid_data['valid_data']

# Q 3.1.1, Q 3.1.2, Q 3.2.1 the autoencoder, its momentum, training with the default settings
max_iters = 100
batch_size = 36
learning_rate = 3e-5
hidden_size = 32
lr_rate = 20
batches = get_random_batches(train_x, np.ones((train_x.shape[0], 1)), batch_size)
batch_num = len(batches)

params = Counter()

# initialize layers here

for itr in range(max_iters):
    total_loss = 0
    for xb, _ in batches:
        pass
        # forward, squared-error loss, backward, momentum update with 'm_'+name entries

    if itr % 2 == 0:
        print("itr: {:02d} \t loss: {:.2f}".format(itr, total_loss))
    if itr % lr_rate == lr_rate - 1:
        learning_rate *= 0.9

# Q 3.2.2 validation images and their reconstructions
import matplotlib.pyplot as plt

# Q 3.2.3 average validation PSNR (13~15 expected)
from skimage.measure import compare_psnr as psnr
