# CS/DS 541 Homework 3, Problems 2 and 3 (blank starter: the course's own is not public)
import numpy as np
import torch


def hyperparam_tuning():
    # TODO: try at least 10 hyper-parameter settings, select on a validation split
    pass


def plotPath():
    # TODO: the loss surface over the two principal directions of the SGD trajectory
    pass
