import string

import matplotlib.pyplot as plt
import numpy as np
import scipy.io
from skimage.measure import compare_psnr as psnr

train_data = scipy.io.loadmat('../data/nist36_train.mat')
valid_data = scipy.io.loadmat('../data/nist36_valid.mat')

# we don't need labels now!
train_x = train_data['train_data']
valid_x = valid_data['valid_data']
valid_y = valid_data['valid_labels']

dim = 32
# do PCA: the right singular vectors of the centred training data are the principal components
mean = train_x.mean(axis=0)
U, S, Vt = np.linalg.svd(train_x - mean, full_matrices=False)
projection = Vt[:dim].T  # Q6.1: 1024 x 32, rank 32

# rebuild a low-rank version
lrank = (train_x - mean) @ projection

# rebuild it
recon = lrank @ projection.T + mean

# build valid dataset
recon_valid = (valid_x - mean) @ projection @ projection.T + mean

# Q6.2 the Q5.3.1 classes: two validation images each and their reconstructions
classes = [0, 7, 18, 27, 33]
labels = string.ascii_uppercase + string.digits
fig, axes = plt.subplots(len(classes), 4, figsize=(6, 8))
for row, c in zip(axes, classes):
    picks = np.flatnonzero(valid_y[:, c] == 1)[:2]
    for j, i in enumerate(picks):
        row[2 * j].imshow(valid_x[i].reshape(32, 32).T, cmap='gray')
        row[2 * j + 1].imshow(np.clip(recon_valid[i], 0, 1).reshape(32, 32).T, cmap='gray')
    row[0].set_ylabel(labels[c])
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle('PCA reconstructions (32 components)')
plt.savefig('q6_reconstructions.png')
plt.show()

# Q6.3 average PSNR
total = [psnr(gt, np.clip(pred, 0, 1)) for pred, gt in zip(recon_valid, valid_x)]
print('rank of the projection matrix:', np.linalg.matrix_rank(projection), projection.shape)
print('average validation PSNR: {:.2f} dB'.format(np.mean(total)))
