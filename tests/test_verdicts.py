"""The three-way verdict logic on hand-made effects."""

import pytest

from stitchkit.measures.bootstrap import Interval
from stitchkit.report.verdicts import (
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    UNMEASURED,
    Measurement,
    at_resolution,
    combined,
    deciding,
    resolution,
    what_would_decide,
)


def measured(value, low, high, threshold=0.05, above=True, label="m"):
    return Measurement(label, Interval(value, low, high, 100), threshold, above)


@pytest.mark.parametrize(
    ("value", "low", "high", "above", "verdict"),
    [
        (0.10, 0.07, 0.13, True, HOLDS),  # wholly above 0.05
        (0.00, -0.03, 0.04, True, CONTRADICTED),  # wholly below
        (0.06, 0.02, 0.10, True, INCONCLUSIVE),  # straddles
        (0.00, -0.03, 0.04, False, HOLDS),  # a claim that the effect is below 0.05
        (0.10, 0.07, 0.13, False, CONTRADICTED),
        (0.05, 0.05, 0.05, True, CONTRADICTED),  # exactly at: not above
    ],
)
def test_the_interval_decides_against_the_threshold(value, low, high, above, verdict):
    assert measured(value, low, high, above=above).verdict == verdict


def test_panels_combine_every_one_holds_or_any_contradicts():
    assert combined([HOLDS, HOLDS]) == HOLDS
    assert combined([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE
    assert combined([HOLDS, INCONCLUSIVE, CONTRADICTED]) == CONTRADICTED
    assert combined([]) == UNMEASURED


def test_the_deciding_panel_is_the_contradicted_or_the_closest_call():
    a = measured(0.10, 0.07, 0.13, label="a")
    b = measured(0.06, 0.02, 0.10, label="b")
    c = measured(0.00, -0.03, 0.04, label="c")
    assert deciding([a, b, c]).label == "c"
    assert deciding([a, b]).label == "b"
    assert deciding([a, measured(0.2, 0.1, 0.3)]).label == "a"
    assert deciding([]) is None


def test_an_inconclusive_effect_says_how_many_more_images_would_decide_it():
    # effect 0.07, threshold 0.05, lower half-width 0.04: the half-width must halve
    m = measured(0.07, 0.03, 0.11)
    assert m.scale_to_decide() == pytest.approx(4.0)
    assert what_would_decide(m).startswith("about 4x the test images")
    at = measured(0.05, 0.01, 0.09)
    assert at.scale_to_decide() is None and "will not decide" in what_would_decide(at)


def test_an_interval_of_no_width_is_widened_to_what_its_images_resolve():
    # every robust accuracy 0 on the attacked images: the bootstrap has no width
    flat = Interval(0.0, 0.0, 0.0, 50)
    # none of 50 images: the exact 95% bound is 1 - 0.025 ** (1 / 50)
    assert resolution(50) == pytest.approx(1 - 0.025 ** (1 / 50))
    widened = at_resolution(flat)
    assert (widened.low, widened.high) == pytest.approx((-resolution(50), resolution(50)))
    # 50 images cannot tell 0 from a 5-point gain; 500 can
    assert Measurement("m", widened, 0.05).verdict == INCONCLUSIVE
    assert Measurement("m", at_resolution(Interval(0.0, 0.0, 0.0, 500)), 0.05).verdict == (
        CONTRADICTED
    )
    # an interval wider than the resolution is left as it is
    wide = Interval(0.1, 0.05, 0.2, 10_000)
    assert at_resolution(wide) == wide


def test_an_inconclusive_effect_of_replicates_says_how_many_replicates_would_decide_it():
    m = Measurement("m", Interval(0.07, 0.03, 0.11, 1000, replicates=3), 0.05)
    assert m.verdict == INCONCLUSIVE and m.scale_to_decide() == pytest.approx(4.0)
    assert what_would_decide(m).startswith("about 12 replicates, now 3")
    assert Measurement("m", at_resolution(m.effect), 0.05).effect.replicates == 3
