"""Custom differentiation rules checked (issue 24): a log-sum-exp with a custom VJP, right
and with planted mistakes (a sign, a factor, the max-shift left out), and a custom JVP
wrong in one output."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from steepest import check_jvp, check_rule, check_vjp


def logsumexp_with(backward):
    @jax.custom_vjp
    def logsumexp(x):
        top = jnp.max(x)
        return top + jnp.log(jnp.sum(jnp.exp(x - top)))

    logsumexp.defvjp(lambda x: (logsumexp(x), x), lambda x, g: (backward(x, g),))
    return logsumexp


def unshifted_softmax(x):
    return jnp.exp(x) / jnp.sum(jnp.exp(x))


RULES = {
    "right": lambda x, g: g * jax.nn.softmax(x),
    "sign": lambda x, g: -g * jax.nn.softmax(x),
    "factor": lambda x, g: g * jax.nn.softmax(x) / 2,
    "no max shift": lambda x, g: g * unshifted_softmax(x),
}


@pytest.mark.parametrize("x", [[1.0, 2.0, 3.0], [1000.0, 1001.0, 999.0]], ids=["small", "large"])
def test_a_right_log_sum_exp_rule_passes(x):
    report = check_rule(logsumexp_with(RULES["right"]), jnp.array(x))
    assert report.ok, str(report)
    assert "autodiff of f with its rule stripped" in report.compared


@pytest.mark.parametrize(
    ("mistake", "x", "words"),
    [
        ("sign", [1.0, 2.0, 3.0], "the rule's derivatives have the wrong sign"),
        ("factor", [1.0, 2.0, 3.0], "off by a factor of 1/2"),
        ("no max shift", [1000.0, 1001.0, 999.0], "the rule overflows (a max-shift left out?)"),
    ],
)
def test_each_wrong_log_sum_exp_rule_is_named(mistake, x, words):
    report = check_rule(logsumexp_with(RULES[mistake]), jnp.array(x))
    assert not report.ok and words in report.diagnosis, str(report)
    with pytest.raises(AssertionError, match="rule check failed"):
        report.raise_if_failed()


def test_a_custom_jvp_wrong_in_one_output_names_it():
    @jax.custom_jvp
    def sine_and_square(x):
        return jnp.sin(x), x**2

    @sine_and_square.defjvp
    def rule(primals, tangents):
        (x,), (t,) = primals, tangents
        return sine_and_square(x), (jnp.cos(x) * t, x * t)  # d(x^2) is 2x, not x

    report = check_rule(sine_and_square, jnp.array([0.5, 1.5]))
    assert not report.ok
    assert "derivative of output[1][1] with respect to input[0][1] is 1.5" in report.diagnosis


def test_a_function_without_a_rule_is_checked_against_central_differences():
    report = check_rule(lambda x, y: x * jnp.sin(y), jnp.array([1.0, 2.0]), jnp.array(0.3))
    assert report.ok and report.compared == "central differences of f", str(report)


def softplus_layer(p, x):
    """softplus(W x + c), two outputs, params W (2, 3) and c (2,)."""
    return jax.nn.softplus(p["W"] @ x + p["c"])


def layer_jvp(p, t, x):
    return jax.nn.sigmoid(p["W"] @ x + p["c"]) * (t["W"] @ x + t["c"])


def layer_vjp(p, u, x):
    g = jax.nn.sigmoid(p["W"] @ x + p["c"]) * u
    return {"W": jnp.outer(g, x), "c": g}


LAYER = ({"W": jnp.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.7]]), "c": jnp.array([0.1, -0.2])},
         jnp.array([1.0, 2.0, -0.5]))  # fmt: skip


@pytest.mark.parametrize(
    ("check", "product", "words"),
    [
        (check_jvp, layer_jvp, None),
        (check_vjp, layer_vjp, None),
        (check_jvp, lambda p, t, x: -layer_jvp(p, t, x), "have the wrong sign"),
        (check_vjp, lambda p, u, x: jax.tree.map(lambda g: 2 * g, layer_vjp(p, u, x)),
         "off by a factor of 2"),
        (check_jvp, lambda p, t, x: jax.nn.sigmoid(p["W"] @ x + p["c"]) * (t["W"] @ x),
         "with respect to params['c'][1] is 0, not 0.904651"),
    ],
)  # fmt: skip
def test_hand_jvps_and_vjps_are_held_to_autodiff_and_differences(check, product, words):
    report = check(softplus_layer, product, *LAYER)
    assert report.compared == "autodiff of f and central differences of f"
    if words is None:
        assert report.ok, str(report)
    else:
        assert not report.ok and words in report.diagnosis, str(report)
        assert str(report).startswith(("JVP check failed", "VJP check failed"))


def test_a_numpy_function_is_held_to_central_differences_alone():
    def f(p, x):
        return np.tanh(np.asarray(p) * x)

    report = check_jvp(f, lambda p, t, x: (1 - np.tanh(p * x) ** 2) * x * t, np.ones(2), 2.0)
    assert report.ok and report.compared == "central differences of f", str(report)


def test_a_product_of_the_wrong_structure_size_or_kind_is_named():
    report = check_vjp(softplus_layer, lambda p, u, x: u, *LAYER)
    assert not report.ok and "the hand VJP returns a pytree of structure" in report.diagnosis
    report = check_vjp(softplus_layer, lambda p, u, x: {"W": u, "c": u}, *LAYER)
    assert "returns 2 numbers where params have 6 (shape (2,) for (2, 3))" in report.diagnosis
    report = check_jvp(softplus_layer, lambda *a: layer_jvp(*a) * (1 + 5j), *LAYER)
    assert "returns complex values (imaginary part up to" in report.diagnosis
    with pytest.raises(ValueError, match="params hold no numbers"):
        check_jvp(softplus_layer, layer_jvp, {}, LAYER[1])


def test_a_missing_factor_hidden_at_the_params_is_seen_at_points_near_them():
    # At p = 1, 2 t equals 2 p t: only the points around the params tell them apart.
    report = check_jvp(lambda p: p**2, lambda p, t: 2 * t, jnp.ones(3))
    assert not report.ok and "(near params)" in report.diagnosis, str(report)


def test_each_entry_is_held_to_its_own_size_and_an_offset_is_no_false_alarm():
    def f(p):  # a Jacobian diag(1e3, 2), in NumPy: central differences alone
        return np.array([1e3 * p[0], 2 * p[1]])

    report = check_jvp(f, lambda p, t: np.array([1e3 * t[0], 2.0001 * t[1]]), np.ones(2))
    assert not report.ok and "with respect to params[1]" in report.diagnosis, str(report)
    offset = check_jvp(lambda p: 300.0 + 1e-3 * jnp.sin(p), lambda p, t: 1e-3 * jnp.cos(p) * t,
                       jnp.array([0.3, 1.2]))  # fmt: skip
    assert offset.ok, str(offset)
