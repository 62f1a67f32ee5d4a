"""Shared pieces of the section 7 scripts: NIST36 as tensors, a training loop, accuracy."""
import time

import numpy as np
import scipy.io
import torch
from torch import nn


def nist36(split, images=False):
    """(x, labels) of ../data/nist36_<split>.mat; ``images`` gives N x 1 x 32 x 32 upright images
    (the rows are stored column-major, hence the transpose)."""
    data = scipy.io.loadmat('../data/nist36_{}.mat'.format(split))
    x = torch.tensor(data['{}_data'.format(split)], dtype=torch.float32)
    y = torch.tensor(np.argmax(data['{}_labels'.format(split)], axis=1))
    if images:
        x = x.reshape(-1, 1, 32, 32).transpose(2, 3)
    return x, y


def accuracy(model, x, y, batch_size=1000):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
                      for i in range(0, len(x), batch_size))
    model.train()
    return correct / len(x)


def fit(model, x, y, epochs, batch_size=32, learning_rate=1e-3, valid=None, seed=0):
    """Adam on the mean cross-entropy; prints and returns per-epoch loss and accuracies. The training
    accuracy is counted on the batches as they are trained (no second pass over the data)."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    history = []
    started = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            scores = model(x[idx])
            loss = nn.functional.cross_entropy(scores, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += (scores.argmax(1) == y[idx]).sum().item()
        row = {'epoch': epoch + 1, 'loss': total / len(x), 'train_acc': correct / len(x)}
        if valid is not None:
            row['valid_acc'] = accuracy(model, *valid)
        history.append(row)
        print('epoch {epoch:2d}  loss {loss:.4f}  train acc {train_acc:.3f}'.format(**row)
              + ('  valid acc {:.3f}'.format(row['valid_acc']) if valid is not None else ''))
    print('{:.0f} s of training'.format(time.perf_counter() - started))
    return history


def plot_history(history, title, filename):
    import matplotlib.pyplot as plt

    epochs = [h['epoch'] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [h['train_acc'] for h in history], label='train')
    if 'valid_acc' in history[0]:
        left.plot(epochs, [h['valid_acc'] for h in history], label='validation')
    left.set_xlabel('epoch')
    left.set_ylabel('accuracy')
    left.legend()
    right.plot(epochs, [h['loss'] for h in history])
    right.set_xlabel('epoch')
    right.set_ylabel('mean cross-entropy')
    fig.suptitle(title)
    fig.savefig(filename)
    plt.show()
