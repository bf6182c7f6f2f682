"""Build and train a small CNN by hand on the bundled 8x8 digits: the loop that fit() wraps."""

import numpy as np
from sklearn.datasets import load_digits

import barenet as bn
from barenet import optim
from barenet.train import train_step

bn.seed(0)
digits = load_digits()
x = (digits.images[:, None] / 16).astype(np.float32)  # (1797, 1, 8, 8) in [0, 1]
y = digits.target
model = bn.Sequential(
    bn.Conv2d(1, 16, 3, padding=1),
    bn.ReLU(),
    bn.MaxPool2d(2),
    bn.Flatten(),
    bn.Linear(16 * 4 * 4, 10),
)
loss_fn = bn.SoftmaxCrossEntropy()
opt = optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(20):
    for i in np.array_split(np.random.default_rng(epoch).permutation(1500), 47):
        # forward, loss, backward, opt.step(), opt.zero_grad(): see train_step's docstring
        loss = train_step(model, loss_fn, opt, x[i], y[i])
model.eval()
print(f"test accuracy {(model(x[1500:]).argmax(1) == y[1500:]).mean():.3f}")
bn.save(model, "digits.safetensors")
