"""The textbook forward and backward of every layer family, as plain functions.

Each function is what a teacher puts on a slide: the formula in its docstring, a few
lines of array code, no threads and no memory-layout tricks. Every forward returns the
output and a cache; the matching backward takes dy and that cache. The array module
comes from the inputs (``array_module``), and only operations CuPy also has are used,
so the same functions run on GPU arrays.

``with barenet.kernels("reference"):`` makes every layer run these; the fast kernels
(``barenet.fast``) are tested equal to them.
"""

from ..core.backend import array_module
from ..core.dispatch import ANY, Kernels, register
from .activation import (
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .conv import col2im, conv2d_backward, conv2d_forward, im2col, out_size, pad2d
from .dropout import dropout_backward, dropout_forward
from .embedding import embedding_backward, embedding_forward
from .linear import linear_backward, linear_forward
from .loss import softmax_cross_entropy
from .norm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train
from .pool import (
    avgpool2d_backward,
    avgpool2d_forward,
    global_avgpool2d_backward,
    global_avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from .recurrent import (
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
)

# The kernel set of each family. A family's sets all have these names and signatures;
# "forward_eval" is the forward a layer runs in eval mode.
KERNELS = {
    "conv2d": Kernels(forward=conv2d_forward, backward=conv2d_backward),
    "linear": Kernels(forward=linear_forward, backward=linear_backward),
    "maxpool2d": Kernels(forward=maxpool2d_forward, backward=maxpool2d_backward),
    "avgpool2d": Kernels(forward=avgpool2d_forward, backward=avgpool2d_backward),
    "global_avgpool2d": Kernels(
        forward=global_avgpool2d_forward, backward=global_avgpool2d_backward
    ),
    "relu": Kernels(forward=relu_forward, forward_eval=relu_forward, backward=relu_backward),
    "leaky_relu": Kernels(
        forward=leaky_relu_forward,
        forward_eval=leaky_relu_forward,
        backward=leaky_relu_backward,
    ),
    "sigmoid": Kernels(forward=sigmoid_forward, backward=sigmoid_backward),
    "tanh": Kernels(forward=tanh_forward, backward=tanh_backward),
    "softmax": Kernels(forward=softmax_forward, backward=softmax_backward),
    "batchnorm": Kernels(
        forward=batchnorm_forward_train,
        forward_eval=batchnorm_forward_eval,
        backward=batchnorm_backward,
    ),
    "dropout": Kernels(forward=dropout_forward, backward=dropout_backward),
    "softmax_cross_entropy": Kernels(forward=softmax_cross_entropy),
    "embedding": Kernels(forward=embedding_forward, backward=embedding_backward),
    "rnn": Kernels(forward=rnn_forward, backward=rnn_backward),
    "lstm": Kernels(forward=lstm_forward, backward=lstm_backward),
    "gru": Kernels(forward=gru_forward, backward=gru_backward),
}

for _family, _kernels in KERNELS.items():
    register(_family, "reference", ANY, _kernels)

__all__ = [
    "KERNELS",
    "array_module",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "batchnorm_backward",
    "batchnorm_forward_eval",
    "batchnorm_forward_train",
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "dropout_backward",
    "dropout_forward",
    "embedding_backward",
    "embedding_forward",
    "global_avgpool2d_backward",
    "global_avgpool2d_forward",
    "gru_backward",
    "gru_forward",
    "im2col",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "lstm_backward",
    "lstm_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "out_size",
    "pad2d",
    "relu_backward",
    "relu_forward",
    "rnn_backward",
    "rnn_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_forward",
    "tanh_backward",
    "tanh_forward",
]
