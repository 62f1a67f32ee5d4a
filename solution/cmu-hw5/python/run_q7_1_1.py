# Q7.1.1 the fully connected network of Q3 (1024-64-36, sigmoid hidden layer) in PyTorch, on NIST36
from torch import nn

from q7_common import fit, nist36, plot_history

train_x, train_y = nist36('train')
valid = nist36('valid')
model = nn.Sequential(nn.Linear(1024, 64), nn.Sigmoid(), nn.Linear(64, 36))
history = fit(model, train_x, train_y, epochs=30, batch_size=32, learning_rate=1e-3, valid=valid)
plot_history(history, 'Q7.1.1 fully connected network on NIST36', 'q7_1_1.png')
print('validation accuracy {:.3f}'.format(history[-1]['valid_acc']))
