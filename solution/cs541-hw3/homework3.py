"""CS/DS 541 HW3, Problems 2 and 3: a ReLU network on Fashion-MNIST in PyTorch, tuned on a validation
split, and the loss landscape around an SGD trajectory.

Run from a folder holding fashion_mnist_{train,test}_{images,labels}.npy (the handout's files):
``python homework3.py``. Hyper-parameters are chosen on a validation split forked off the training
set; the test set is read only once, for the final accuracy.
"""
import itertools
import random
import time

import numpy as np
import torch
from torch import nn

SEED = 0


def load(split):
    """Images as float rows in [-0.5, 0.5] (the handout's preprocessing), labels as ints."""
    images = np.load('fashion_mnist_{}_images.npy'.format(split)).reshape(-1, 784)
    labels = np.load('fashion_mnist_{}_labels.npy'.format(split))
    return torch.tensor(images / 255.0 - 0.5, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)


class Network(nn.Module):
    """784 -> hidden ... -> 10: z = Wx + b, ReLU between layers; softmax lives in the loss.
    ``batchnorm`` is Problem 2.4's variant: BatchNorm before each ReLU."""

    def __init__(self, n_hidden_layers=3, n_units=50, batchnorm=False):
        super().__init__()
        sizes = [784] + [n_units] * n_hidden_layers
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out)] + ([nn.BatchNorm1d(n_out)] if batchnorm else []) + [nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], 10))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def train(model, x, y, learning_rate, batch_size, epochs, l2=0.0, log_last=0):
    """Minibatch SGD with momentum on the mean cross-entropy plus L2 on the weight matrices only;
    longer runs spend their last third at a tenth of the learning rate."""
    weights = [p for name, p in model.named_parameters() if name.endswith('weight')]
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
    generator = torch.Generator().manual_seed(SEED)
    losses = []
    for epoch in range(epochs):
        if epoch == (2 * epochs) // 3 and epochs >= 6:  # the last third at a tenth of the rate
            for group in optimizer.param_groups:
                group['lr'] = learning_rate / 10
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            penalty = l2 * sum((w ** 2).sum() for w in weights)
            optimizer.zero_grad()
            (loss + penalty).backward()
            optimizer.step()
            losses.append(loss.item())
    if log_last:
        for i, value in enumerate(losses[-log_last:], start=len(losses) - log_last + 1):
            print('minibatch {:6d}  training loss {:.4f}'.format(i, value))
    return model


def flat_parameters(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def set_flat_parameters(model, flat):
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor(flat[offset:offset + p.numel()]).reshape(p.shape))
            offset += p.numel()


def trajectory_of_sgd(model, x, y, learning_rate, batch_size, epochs, samples_per_epoch=4):
    """Plain SGD on (x, y), keeping the flattened parameters a few times per epoch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(SEED)
    steps = -(-len(x) // batch_size)
    keep = set(np.linspace(0, steps - 1, samples_per_epoch).astype(int))
    points = [flat_parameters(model)]
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for step, start in enumerate(range(0, len(x), batch_size)):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step in keep:
                points.append(flat_parameters(model))
    return np.array(points)


def plotPath(model, x, y, trajectory, grid_size=25, filename='loss_landscape.png'):
    """Problem 3: the unregularised training cross-entropy over the plane of the trajectory's two
    principal components (PCA by SVD of the centred trajectory), with the trajectory on it."""
    import matplotlib.pyplot as plt

    mean = trajectory.mean(axis=0)
    _, _, components = np.linalg.svd(trajectory - mean, full_matrices=False)
    components = components[:2]
    path = (trajectory - mean) @ components.T
    margin = 0.5 * np.ptp(path, axis=0) + 1e-3
    xs = np.linspace(path[:, 0].min() - margin[0], path[:, 0].max() + margin[0], grid_size)
    ys = np.linspace(path[:, 1].min() - margin[1], path[:, 1].max() + margin[1], grid_size)
    grid_x, grid_y = np.meshgrid(xs, ys)

    def loss_at(point):
        set_flat_parameters(model, mean + point @ components)
        with torch.no_grad():
            return nn.functional.cross_entropy(model(x), y).item()

    surface = np.array([[loss_at(np.array([a, b])) for a, b in zip(row_x, row_y)]
                        for row_x, row_y in zip(grid_x, grid_y)])
    path_loss = np.array([loss_at(p) for p in path])
    fig = plt.figure(figsize=(8, 6))
    ax = fig.add_subplot(projection='3d')
    ax.plot_surface(grid_x, grid_y, surface, alpha=0.6, cmap='viridis')
    ax.scatter(path[:, 0], path[:, 1], path_loss, color='red', s=12)
    ax.set_xlabel('principal component 1')
    ax.set_ylabel('principal component 2')
    ax.set_zlabel('training cross-entropy')
    fig.savefig(filename)
    plt.show()
    return components, path, surface


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(dim=1) == y).float().mean().item()
    model.train()
    return correct


def hyperparam_tuning(x, y, settings, validation_share=0.2):
    """Train one network per setting on the training part, score it on the validation part (never
    the test set); returns the best setting and every (setting, validation accuracy)."""
    generator = torch.Generator().manual_seed(SEED)
    order = torch.randperm(len(x), generator=generator)
    n_valid = int(len(x) * validation_share)
    valid, fit = order[:n_valid], order[n_valid:]
    results = []
    for setting in settings:
        torch.manual_seed(SEED)
        model = Network(setting['n_hidden_layers'], setting['n_units'])
        train(model, x[fit], y[fit], setting['learning_rate'], setting['batch_size'], setting['epochs'],
              setting['l2'])
        results.append((setting, accuracy(model, x[valid], y[valid])))
        print('{}  validation accuracy {:.4f}'.format(setting, results[-1][1]))
    return max(results, key=lambda r: r[1])[0], results


# ten settings drawn (seeded) from the handout's suggested grid, two epochs each on the first
# 15 000 training images (12 000 to fit, 3 000 to validate): the search ranks settings, the chosen
# one is then re-trained on all 60 000
GRID = list(itertools.product((3, 4, 5), (30, 40, 50), (0.01, 0.05, 0.1), (64, 128, 256), (0.0, 1e-5, 1e-4)))
SEARCH_EXAMPLES = 15000
FINAL_EPOCHS = 12
SETTINGS = [dict(n_hidden_layers=l, n_units=u, learning_rate=lr, batch_size=b, epochs=2, l2=l2)
            for l, u, lr, b, l2 in random.Random(SEED).sample(GRID, 10)]


if __name__ == '__main__':
    torch.set_num_threads(2)
    train_x, train_y = load('train')
    started = time.perf_counter()
    best, _ = hyperparam_tuning(train_x[:SEARCH_EXAMPLES], train_y[:SEARCH_EXAMPLES], SETTINGS)
    print('best setting {} ({:.0f} s of tuning)'.format(best, time.perf_counter() - started))

    # re-train on the whole training set with more epochs; the last 20 minibatches' losses
    started = time.perf_counter()
    torch.manual_seed(SEED)
    model = Network(best['n_hidden_layers'], best['n_units'])
    train(model, train_x, train_y, best['learning_rate'], best['batch_size'], epochs=FINAL_EPOCHS, l2=best['l2'],
          log_last=20)
    test_x, test_y = load('test')
    print('test accuracy {:.4f} (final training {:.0f} s)'.format(accuracy(model, test_x, test_y),
                                                                 time.perf_counter() - started))

    # Problem 3: the loss landscape around an SGD trajectory, on 2 500 training examples
    torch.manual_seed(SEED)
    small = Network(best['n_hidden_layers'], best['n_units'])
    subset_x, subset_y = train_x[:2500], train_y[:2500]
    trajectory = trajectory_of_sgd(small, subset_x, subset_y, learning_rate=0.05, batch_size=64, epochs=10)
    plotPath(small, subset_x, subset_y, trajectory)
    print('loss landscape: {} points on the trajectory, saved loss_landscape.png'.format(len(trajectory)))

    # Problem 2.4 (bonus): the same network and settings with BatchNorm
    started = time.perf_counter()
    torch.manual_seed(SEED)
    variant = Network(best['n_hidden_layers'], best['n_units'], batchnorm=True)
    train(variant, train_x, train_y, best['learning_rate'], best['batch_size'], epochs=FINAL_EPOCHS, l2=best['l2'])
    print('with BatchNorm: test accuracy {:.4f} ({:.0f} s)'.format(accuracy(variant, test_x, test_y),
                                                                  time.perf_counter() - started))
