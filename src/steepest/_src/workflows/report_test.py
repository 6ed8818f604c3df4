"""The report's own names: where its learning rate comes from."""

import pytest

from steepest import DataError
from steepest._src.theory import MAX_DENSE_HESSIAN
from steepest._src.workflows.report import learning_rate_source


def test_too_many_parameters_for_the_default_rate_are_counted_as_features():
    """The Hessian has a row per weight and one for the intercept, when there is one;
    the message counts the features."""
    features = MAX_DENSE_HESSIAN
    assert learning_rate_source("gd", None, features, intercept=False) == "1/L"
    with pytest.raises(DataError, match=rf"^--lr is needed for {features} features: "):
        learning_rate_source("gd", None, features, intercept=True)
    assert learning_rate_source("lbfgs", None, features + 5) == "the default for lbfgs"
    assert learning_rate_source("gd", 0.1, features + 5) == "given"
