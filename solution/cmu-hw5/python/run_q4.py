import os
import pickle

import matplotlib.patches
import matplotlib.pyplot as plt
import skimage.io
import skimage

from nn import *
from q4 import *

# the network trained in Q3.1.1
with open('q3_weights.pickle', 'rb') as handle:
    params = pickle.load(handle)

for img in sorted(os.listdir('../images')):
    im1 = skimage.img_as_float(skimage.io.imread(os.path.join('../images', img)))
    bboxes, bw = findLetters(im1)

    # Q4.3 the boxes found, drawn on the black-and-white image
    plt.imshow(bw, cmap='gray')
    for minr, minc, maxr, maxc in bboxes:
        plt.gca().add_patch(matplotlib.patches.Rectangle((minc, minr), maxc - minc, maxr - minr,
                                                         fill=False, edgecolor='red', linewidth=2))
    plt.title(img)
    plt.show()

    # Q4.4 group the boxes into rows, crop each letter like the training data, classify
    print(img)
    for line in extract_text(im1, params, forward, softmax):
        print(line)
