import utils
import matplotlib.pyplot as plt
from task2a import pre_process_images, one_hot_encode, SoftmaxModel
from task2 import SoftmaxTrainer


def train(use_improved_weight_init, use_improved_sigmoid, use_momentum, data, num_epochs=50):
    X_train, Y_train, X_val, Y_val = data
    learning_rate = .02 if use_momentum else .1
    model = SoftmaxModel([64, 10], use_improved_sigmoid, use_improved_weight_init)
    trainer = SoftmaxTrainer(.9, use_momentum, model, learning_rate, 32, True,
                             X_train, Y_train, X_val, Y_val)
    return trainer.train(num_epochs)


if __name__ == "__main__":
    X_train, Y_train, X_val, Y_val = utils.load_full_mnist()
    data = (pre_process_images(X_train), one_hot_encode(Y_train, 10),
            pre_process_images(X_val), one_hot_encode(Y_val, 10))
    # Task 3: add the tricks one at a time
    runs = {
        "Task 2 model": (False, False, False),
        "Improved weight init": (True, False, False),
        "+ improved sigmoid": (True, True, False),
        "+ momentum": (True, True, True),
    }
    histories = {name: train(*flags, data) for name, flags in runs.items()}

    plt.figure(figsize=(20, 8))
    plt.subplot(1, 2, 1)
    plt.ylim([0., .4])
    for name, (train_history, val_history) in histories.items():
        utils.plot_loss(train_history["loss"], name, npoints_to_average=10)
    plt.ylabel("Training Cross Entropy Loss")
    plt.legend()
    plt.subplot(1, 2, 2)
    plt.ylim([0.85, .99])
    for name, (train_history, val_history) in histories.items():
        utils.plot_loss(val_history["accuracy"], name)
    plt.ylabel("Validation Accuracy")
    plt.legend()
    plt.savefig("task3_tricks.png")
    plt.show()
