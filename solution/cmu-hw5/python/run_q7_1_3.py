# Q7.1.3 a convolutional network on NIST36 (32 x 32 images, 36 classes)
from torch import nn

from q7_common import fit, nist36, plot_history

train_x, train_y = nist36('train', images=True)
valid = nist36('valid', images=True)
model = nn.Sequential(
    nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),      # 8 x 16 x 16
    nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),     # 16 x 8 x 8
    nn.Flatten(), nn.Linear(16 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 36))
history = fit(model, train_x, train_y, epochs=6, batch_size=64, learning_rate=2e-3, valid=valid)
plot_history(history, 'Q7.1.3 convolutional network on NIST36', 'q7_1_3.png')
print('validation accuracy {:.3f}'.format(history[-1]['valid_acc']))
