"""Induced failure for bench/health_suite.py: cyclegan's generators with an adversarial
weight of ~0 (their adversarial terms x 1e-3; the discriminators' losses unchanged). With a
large ``model.lambda_identity`` the cycle and identity terms alone remain, and returning the
input satisfies both: an identity generator, nothing translated."""
from ganrun import hookimpl
from ganrun.losses import AdversarialLoss
from ganrun_plugins.cyclegan.method import make_losses

WEIGHT = 1e-3


class Weakened(AdversarialLoss):
    def __init__(self, loss: AdversarialLoss):
        self.loss, self.name = loss, loss.name

    def d_real(self, logits):
        return self.loss.d_real(logits)

    def d_fake(self, logits):
        return self.loss.d_fake(logits)

    def g(self, logits):
        return WEIGHT * self.loss.g(logits)


@hookimpl
def ganrun_make_losses(recipe):
    if recipe.method != "cyclegan":
        return None
    losses = make_losses(recipe.model)
    return {**losses, "adversarial": Weakened(losses["adversarial"])}
