"""v2's agreement metrics against hand-computed values."""

import math

import pytest
import torch

from stitchkit.measures.agreement import AgreementTally

LN2, LN3 = math.log(2), math.log(3)


def tally(*batches) -> dict:
    t = AgreementTally()
    for a, b, y in batches:
        t.add(torch.as_tensor(a), torch.as_tensor(b), torch.as_tensor(y))
    return t.scores()


def test_two_classes_by_hand():
    # p_a = (.25, .75), (.75, .25); p_b = (.75, .25) twice; labels 0, 1
    # <p_a, p_b> / max|p|^2: .375 / .625 = .6, then 1 -> agreement_prob .8
    # a is wrong twice, b right once: agreement_ratio .5, c_exp .5 -> hard kappa 0
    # s_a = .25, s_b = .5, c_exp = .125 + .75 * .5 / 1 = .5 -> soft kappa (.8 - .5) / .5
    scores = tally(([[0.0, LN3], [LN3, 0.0]], [[LN3, 0.0], [LN3, 0.0]], [0, 1]))
    assert scores == pytest.approx(
        {
            "accuracy": 0.0,
            "agreement_prob": 0.8,
            "agreement_ratio": 0.5,
            "hard_kappa": 0.0,
            "soft_kappa": 0.6,
        }
    )


def test_three_classes_use_the_chance_term_and_batches_add_up():
    # p_a = (.25, .5, .25), p_b = (.5, .25, .25), label 0: <p_a, p_b> = .3125, both
    # |p|^2 = .375 -> 5/6; a wrong, b right -> ratio 0, c_exp 0, hard kappa 0;
    # s_a .25, s_b .5: c_exp = .125 + .75 * .5 / 2 = .3125 -> soft kappa 25/33
    one = ([[0.0, LN2, 0.0]], [[LN2, 0.0, 0.0]], [0])
    scores = tally(one)
    assert scores["agreement_prob"] == pytest.approx(5 / 6)
    assert scores["hard_kappa"] == pytest.approx(0.0)
    assert scores["soft_kappa"] == pytest.approx(25 / 33)
    assert tally(one, one, one) == pytest.approx(scores)


def test_a_model_with_itself_agrees_fully():
    logits = torch.randn(500, 10, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(1))
    scores = tally((logits, logits, labels))
    assert scores["agreement_prob"] == pytest.approx(1.0)
    assert scores["agreement_ratio"] == 1.0
    assert scores["hard_kappa"] == pytest.approx(1.0)
    assert scores["soft_kappa"] == pytest.approx(1.0)


def test_every_sample_right_by_both_is_kappa_one_not_a_division_by_zero():
    scores = tally(([[9.0, 0.0]], [[9.0, 0.0]], [0]))
    assert scores["hard_kappa"] == 1.0


def test_independent_confident_predictions_have_kappas_near_zero():
    g = torch.Generator().manual_seed(0)
    n, k = 20000, 10
    labels = torch.randint(0, k, (n,), generator=g)

    def confident_guesses():
        # right 60% of the time, otherwise a random class; softmax nearly one-hot
        guess = torch.where(
            torch.rand(n, generator=g) < 0.6, labels, torch.randint(0, k, (n,), generator=g)
        )
        return 50 * torch.nn.functional.one_hot(guess, k).double()

    scores = tally((confident_guesses(), confident_guesses(), labels))
    assert abs(scores["hard_kappa"]) < 0.03
    assert abs(scores["soft_kappa"]) < 0.03
    assert 0.55 < scores["accuracy"] < 0.7


def test_logits_of_different_classes_are_refused():
    with pytest.raises(ValueError, match="agreement needs the same classes"):
        AgreementTally().add(
            torch.zeros(2, 10), torch.zeros(2, 5), torch.zeros(2, dtype=torch.long)
        )
