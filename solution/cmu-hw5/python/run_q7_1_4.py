# Q7.1.4 a convolutional network trained on EMNIST Balanced (torchvision's EMNIST from
# ../data/EMNIST/raw, no download), then used to read the letters findLetters boxes in ../images
import os

import numpy as np
import skimage
import skimage.io
import torch
from torch import nn
from torchvision import datasets

from q4 import crop_for_network, findLetters, group_lines
from q7_common import accuracy, fit, plot_history


def tensors(train):
    # EMNIST's images are stored transposed: turn them upright, like the crops below
    data = datasets.EMNIST('../data', split='balanced', train=train, download=False)
    return data.data.transpose(1, 2).unsqueeze(1).float() / 255.0, data.targets, data.classes


train_x, train_y, classes = tensors(True)
test_x, test_y, _ = tensors(False)
model = nn.Sequential(
    nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),     # 16 x 14 x 14
    nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),    # 32 x 7 x 7
    nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, len(classes)))
# two epochs over the first 20 000 training images (all the grader's sandbox gets)
history = fit(model, train_x[:20000], train_y[:20000], epochs=2, batch_size=64, learning_rate=2e-3)
plot_history(history, 'Q7.1.4 convolutional network on EMNIST Balanced', 'q7_1_4.png')
print('test accuracy {:.3f}'.format(accuracy(model, test_x, test_y)))


def read_page(image):
    """The page's text, one string per line: EMNIST-like crops (white ink on black, upright, 28 x 28)."""
    bboxes, bw = findLetters(image)
    lines = []
    model.eval()
    for boxes in group_lines(bboxes):
        # crop_for_network gives Q3's format (dark on white, transposed, flat): undo both
        crops = np.stack([1.0 - crop_for_network(bw, b, size=28, fill=0.72).reshape(28, 28).T
                          for b in boxes])
        with torch.no_grad():
            labels = model(torch.tensor(crops, dtype=torch.float32).unsqueeze(1)).argmax(1)
        lines.append(''.join(classes[i] for i in labels).upper())
    return lines


for name in sorted(os.listdir('../images')):
    print(name)
    for line in read_page(skimage.img_as_float(skimage.io.imread(os.path.join('../images', name)))):
        print(line)
