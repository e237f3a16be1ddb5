"""How far a stitched model a agrees with its end model b: the metrics of the paper's v2
(the authors' ICML 2026 code, evaluation/metrics.py), tallied over test batches.

- agreement_prob: mean over samples of <p_a, p_b> / max(|p_a|^2, |p_b|^2), p = softmax;
  1 exactly when the two predictive distributions are equal.
- agreement_ratio: share of samples where a is correct exactly when b is.
- hard_kappa: error consistency (c_obs - c_exp) / (1 - c_exp), c_obs = agreement_ratio,
  c_exp = acc_a acc_b + (1 - acc_a)(1 - acc_b).
- soft_kappa: the same with c_obs = agreement_prob and
  c_exp = s_a s_b + (1 - s_a)(1 - s_b) / (K - 1), s = mean probability of the true class.
A kappa whose c_exp is 1 is 1, as in the authors' code. Everything is a fraction in
[0, 1] (kappas in [-1, 1]), like every accuracy stitchkit writes; figures show percent.
"""

from dataclasses import dataclass, field

import torch

METRICS = ("agreement_prob", "agreement_ratio", "hard_kappa", "soft_kappa")


def _kappa(observed: float, expected: float) -> float:
    return 1.0 if expected == 1.0 else (observed - expected) / (1.0 - expected)


@dataclass
class AgreementTally:
    """Running sums over batches; `scores()` gives accuracy and the four METRICS,
    `per_sample()` a's prediction and agreement with b for every sample added."""

    samples: int = 0
    classes: int = 0
    correct_a: int = 0
    correct_b: int = 0
    same_correctness: int = 0
    prob_agreement: float = 0.0
    true_prob_a: float = 0.0
    true_prob_b: float = 0.0
    predictions: list = field(default_factory=list, repr=False)
    agreements: list = field(default_factory=list, repr=False)

    @torch.no_grad()
    def add(self, logits_a: torch.Tensor, logits_b: torch.Tensor, labels: torch.Tensor) -> None:
        """Count one batch: logits of a and b (N x K, any float dtype) and labels (N)."""
        if logits_a.shape != logits_b.shape:
            raise ValueError(
                f"stitched logits {tuple(logits_a.shape)} and end logits "
                f"{tuple(logits_b.shape)} differ; agreement needs the same classes"
            )
        p_a = logits_a.double().softmax(1)
        p_b = logits_b.double().softmax(1)
        hit_a = p_a.argmax(1) == labels
        hit_b = p_b.argmax(1) == labels
        best = torch.maximum((p_a * p_a).sum(1), (p_b * p_b).sum(1))
        rows = labels.unsqueeze(1)
        self.samples += len(labels)
        self.classes = logits_a.shape[1]
        self.correct_a += hit_a.sum().item()
        self.correct_b += hit_b.sum().item()
        self.same_correctness += (hit_a == hit_b).sum().item()
        agreement = (p_a * p_b).sum(1) / best
        self.prob_agreement += agreement.sum().item()
        self.predictions.append(p_a.argmax(1).to(torch.int16).cpu())
        self.agreements.append(agreement.float().cpu())
        self.true_prob_a += p_a.gather(1, rows).sum().item()
        self.true_prob_b += p_b.gather(1, rows).sum().item()

    def per_sample(self) -> dict[str, torch.Tensor]:
        """``pred``: a's predicted class (int16) and ``agreement``: its agreement
        probability with b (float32), per sample in the order added."""
        return {"pred": torch.cat(self.predictions), "agreement": torch.cat(self.agreements)}

    def scores(self) -> dict[str, float]:
        """accuracy (of a) and the four METRICS over every sample added."""
        if not self.samples:
            raise ValueError("no samples were added")
        n = self.samples
        acc_a, acc_b = self.correct_a / n, self.correct_b / n
        s_a, s_b = self.true_prob_a / n, self.true_prob_b / n
        prob = self.prob_agreement / n
        ratio = self.same_correctness / n
        chance = 1.0 / (self.classes - 1) if self.classes > 1 else 0.0
        return {
            "accuracy": acc_a,
            "agreement_prob": prob,
            "agreement_ratio": ratio,
            "hard_kappa": _kappa(ratio, acc_a * acc_b + (1 - acc_a) * (1 - acc_b)),
            "soft_kappa": _kappa(prob, s_a * s_b + (1 - s_a) * (1 - s_b) * chance),
        }
