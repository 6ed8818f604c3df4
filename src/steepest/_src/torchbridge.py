"""PyTorch functions as functions of NumPy arrays, for the checkers.

A gradient derived by hand in PyTorch, a loss written in PyTorch, or the gradient
``torch.autograd`` gives of it, checked with ``check_gradient`` against the JAX cost's
autodiff and against finite differences: ``from_torch`` and ``torch_gradient`` turn them
into functions of NumPy float64 arrays returning NumPy arrays, the pytree structure of
their arguments and results kept. torch is imported when one of them is first called
(``pip install 'steepest[torch]'``).
"""

from collections.abc import Callable

import jax
import numpy as np


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "checking a PyTorch function needs torch: pip install 'steepest[torch]'"
        ) from None
    return torch


def _to_tensor(torch, leaf, requires_grad: bool = False):
    """An array (NumPy or JAX) or number as a CPU tensor: floating values in float64."""
    array = np.asarray(leaf)
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    tensor = torch.from_numpy(np.array(array))  # a copy: the function may write in place
    return tensor.requires_grad_(True) if requires_grad else tensor


def _to_numpy(torch, tree):
    """Every tensor in ``tree`` as a NumPy array (detached, on the CPU)."""
    return jax.tree.map(
        lambda leaf: leaf.detach().cpu().numpy() if isinstance(leaf, torch.Tensor) else leaf,
        tree,
    )


def from_torch(function: Callable) -> Callable:
    """``function``, written with PyTorch tensors, as a function of NumPy (or JAX) arrays.

    Every array or number among the arguments (in any pytree: dicts, lists, tuples)
    becomes a float64 CPU tensor (integers stay integers); every tensor returned becomes
    a NumPy array. Give it to ``check_gradient`` as the hand-derived gradient, checked
    against autodiff of the JAX cost, or as the loss too (then against finite
    differences alone: JAX cannot differentiate PyTorch).

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import check_gradient
        >>> def grad(w, x):  # derived by hand, written in PyTorch
        ...     return 2 * w * x**2
        >>> report = check_gradient(lambda w, x: jnp.sum((w * x) ** 2), from_torch(grad),
        ...                         jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5]))
        >>> report.ok
        True
    """
    torch = _torch()

    def numpy_function(*arguments, **keywords):
        tensors = jax.tree.map(lambda leaf: _to_tensor(torch, leaf), (arguments, keywords))
        return _to_numpy(torch, function(*tensors[0], **tensors[1]))

    numpy_function.__name__ = getattr(function, "__name__", "torch function")
    return numpy_function


def torch_gradient(loss: Callable) -> Callable:
    """The gradient ``torch.autograd`` gives of ``loss(params, *data)`` (written in
    PyTorch), as a function of NumPy arrays returning a pytree like ``params``.

    To check a port: PyTorch's autograd of the PyTorch loss against JAX's autodiff of
    the JAX one, and both against finite differences, with
    ``check_gradient(jax_loss, torch_gradient(torch_loss), params, *data)``. A
    parameter the loss does not use gets a zero gradient (every one, where the loss
    depends on none).

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import check_gradient
        >>> def torch_loss(w, x):
        ...     return ((w * x) ** 2).sum()
        >>> report = check_gradient(lambda w, x: jnp.sum((w * x) ** 2), torch_gradient(torch_loss),
        ...                         jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5]))
        >>> report.ok
        True
    """
    torch = _torch()

    def gradient(params, *data, **keywords):
        leaves, structure = jax.tree.flatten(params)
        tensors = [_to_tensor(torch, leaf, requires_grad=True) for leaf in leaves]
        inputs = jax.tree.map(lambda leaf: _to_tensor(torch, leaf), (data, keywords))
        value = loss(jax.tree.unflatten(structure, tensors), *inputs[0], **inputs[1])
        if not torch.is_tensor(value) or not value.requires_grad:  # depends on no param
            grads = [None] * len(tensors)
        else:
            grads = torch.autograd.grad(value, tensors, allow_unused=True)
        return jax.tree.unflatten(
            structure,
            [
                np.zeros(np.shape(leaf)) if g is None else g.detach().cpu().numpy()
                for leaf, g in zip(leaves, grads, strict=True)
            ],
        )

    gradient.__name__ = f"torch.autograd of {getattr(loss, '__name__', 'the loss')}"
    return gradient
