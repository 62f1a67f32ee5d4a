"""CS/DS 541 HW3, Problem 4: a dense autoencoder 784-128-64-128-784 on Fashion-MNIST.

``python autoencoder.py [ROOT]`` reads torchvision's FashionMNIST from ROOT (default ``data``, i.e.
``data/FashionMNIST/raw``) without downloading, trains 20 epochs with MSE and Adam, prints the test
reconstruction error and saves the 2x2 figure of two test images and their reconstructions.
"""
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets, transforms

SEED = 0


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def images_in_unit_range(dataset):
    """What ToTensor makes of every image (uint8 -> float in [0, 1], one channel), done once for the
    whole set instead of once per image per epoch (20 epochs of per-image PIL conversion cost
    more than the training)."""
    to_tensor = transforms.ToTensor()
    assert torch.equal(to_tensor(dataset[0][0]), dataset.data[:1].float() / 255)
    return TensorDataset(dataset.data.unsqueeze(1).float() / 255, dataset.targets)


def loaders(root, batch_size=128):
    """Task 1: the images as tensors in [0, 1] (labels are carried along but never used)."""
    train = datasets.FashionMNIST(root, train=True, download=False)
    test = datasets.FashionMNIST(root, train=False, download=False)
    generator = torch.Generator().manual_seed(SEED)
    return (DataLoader(images_in_unit_range(train), batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(images_in_unit_range(test), batch_size=batch_size, shuffle=False))


def fit(model, optimizer, train_loader, epochs=20):
    """Task 3: MSE between each flattened image and its reconstruction."""
    loss_fn = nn.MSELoss()
    for epoch in range(epochs):
        total = 0.0
        for images, _ in train_loader:
            x = images.view(len(images), -1)
            loss = loss_fn(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        print('epoch {:2d}  training MSE {:.5f}'.format(epoch + 1, total / len(train_loader.dataset)))
    return model


def test_error(model, test_loader):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for images, _ in test_loader:
            x = images.view(len(images), -1)
            total += nn.functional.mse_loss(model(x), x, reduction='sum').item() / 784
    return total / len(test_loader.dataset)


def show_reconstructions(model, test_loader, filename='reconstructions.png'):
    """Task 4: two test images (top) and their reconstructions (bottom), in one labelled figure."""
    import matplotlib.pyplot as plt

    model.eval()
    images, _ = next(iter(test_loader))
    with torch.no_grad():
        recon = model(images[:2].view(2, -1)).view(2, 28, 28)
    fig, axes = plt.subplots(2, 2, figsize=(5, 5))
    for j in range(2):
        axes[0, j].imshow(images[j, 0], cmap='gray')
        axes[0, j].set_title('original {}'.format(j + 1))
        axes[1, j].imshow(recon[j], cmap='gray')
        axes[1, j].set_title('reconstruction {}'.format(j + 1))
    for ax in axes.ravel():
        ax.axis('off')
    fig.savefig(filename)
    plt.show()


if __name__ == '__main__':
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    train_loader, test_loader = loaders(sys.argv[1] if len(sys.argv) > 1 else 'data')
    started = time.perf_counter()
    model = Autoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit(model, optimizer, train_loader)
    print('test MSE per pixel {:.5f} (training {:.0f} s)'.format(test_error(model, test_loader),
                                                                 time.perf_counter() - started))
    show_reconstructions(model, test_loader)
