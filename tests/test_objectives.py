"""The objectives: which terms reach which parameters, and M2's marginal against a hand computation."""

import math

import pytest
import torch
import torch.nn.functional as F

from ssvae_train.models import SSVAE, ModelConfig
from ssvae_train.training import objectives
from ssvae_train.training.objectives import LossWeights, objective


def tiny(kind="ssvae", posterior_y=False, arch="dense"):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, kind=kind, sample_shape=(4, 4), n_classes=3, likelihood="bernoulli",
                      latent_dim=2, hidden=8, posterior_y=posterior_y)
    return SSVAE(cfg, torch.zeros(1), torch.tensor([16.0]))


def batch(n=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 4, 4, generator=g) * 16, torch.randint(0, 3, (n,), generator=g)


def test_label_term_vanishes_on_unlabelled_rows():
    m = tiny()
    x, _ = batch()
    loss, parts = objective(m, "soft-label", x, None, None, LossWeights())
    assert "ce" not in parts
    loss.backward()
    # the classifier's softmax is detached before it reaches the decoder: pi learns from labels only
    assert m.pi.weight.grad is None or torch.count_nonzero(m.pi.weight.grad) == 0
    assert torch.count_nonzero(m.trunk.net[1].weight.grad) > 0


def test_label_term_trains_pi_on_labelled_rows():
    m = tiny()
    x, y = batch()
    loss, parts = objective(m, "soft-label", None, x, y, LossWeights(alpha=1.0))
    loss.backward()
    assert parts["ce"] > 0 and torch.count_nonzero(m.pi.weight.grad) > 0


def test_alpha_scales_only_the_label_term():
    m = tiny()
    x, y = batch()
    torch.manual_seed(5)
    l1, p1 = objective(m, "soft-label", None, x, y, LossWeights(alpha=1.0))
    torch.manual_seed(5)
    l3, p3 = objective(m, "soft-label", None, x, y, LossWeights(alpha=3.0))
    assert float((l3 - l1).detach()) == pytest.approx(2 * p1["ce"], rel=1e-5)


@pytest.mark.parametrize("posterior_y", [False, True])
def test_m2_marginal_matches_hand_computation(monkeypatch, posterior_y):
    m = tiny(posterior_y=posterior_y)
    x, _ = batch(n=3)
    monkeypatch.setattr(objectives, "sample_z", lambda mu, logvar: mu)  # deterministic z for the check
    got = objectives.m2_unlabelled_terms(m, x)
    with torch.no_grad():
        h = m.features(x)
        q = torch.softmax(m.pi(h), -1)
        for i in range(len(x)):
            total = 0.0
            for k in range(3):
                yk = F.one_hot(torch.tensor([k]), 3).float()
                mu, lv = m.posterior(h[i : i + 1], yk)
                p = torch.sigmoid(m.decode(mu, yk))[0]
                t = x[i] / 16
                rec = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).sum()
                kl = 0.5 * (mu**2 + lv.exp() - 1 - lv).sum()
                total += q[i, k] * (rec + kl + torch.log(q[i, k]) + math.log(3))
            want = total
            have = got["rec"][i] + got["kl"][i] + got["kl_y"][i]
            assert float(have) == pytest.approx(float(want), rel=1e-5)


def test_m2_unlabelled_entropy_term_is_kl_to_uniform():
    m = tiny()
    x, _ = batch()
    t = objectives.m2_unlabelled_terms(m, x)
    assert torch.all(t["kl_y"] >= -1e-6)  # KL(q(y|x) || uniform) is never negative


def test_equivalents_have_only_their_parts():
    sup, vae = tiny("supervised"), tiny("vae")
    assert sup.has_classifier and not sup.has_decoder
    assert vae.has_decoder and not vae.has_classifier and vae.cond_dim == 0
    x, y = batch()
    loss, parts = objective(sup, "soft-label", x, x, y, LossWeights())
    assert set(parts) == {"ce"}
    loss, parts = objective(vae, "soft-label", x, None, None, LossWeights())
    assert set(parts) == {"rec", "kl"}


def test_gaussian_likelihood_matches_normal_log_prob():
    cfg = ModelConfig(arch="lstm", kind="ssvae", sample_shape=(6, 3), n_classes=2, likelihood="gaussian",
                      latent_dim=2, hidden=4)
    m = SSVAE(cfg, torch.zeros(3), torch.ones(3))
    with torch.no_grad():
        m.log_sigma.copy_(torch.tensor([0.1, -0.2, 0.3]))
    params, target = torch.randn(2, 6, 3), torch.randn(2, 6, 3)
    want = -torch.distributions.Normal(params, m.log_sigma.exp()).log_prob(target).sum((1, 2))
    assert torch.allclose(m.nll(params, target), want, atol=1e-5)


def test_seed_is_the_old_name_of_soft_label():
    """`seed` (the objective's old name, in old commands, checkpoints and cells) means `soft-label`."""
    from ssvae_train.config import FitConfig
    from ssvae_train.names import OBJECTIVES, canonical_objective

    assert canonical_objective("seed") == "soft-label" and canonical_objective("m2") == "m2"
    assert "seed" not in OBJECTIVES
    x, y = batch()
    losses = []
    for name in ("seed", "soft-label"):
        m = tiny()
        torch.manual_seed(3)
        losses.append(float(objective(m, name, x[:3], x[3:], y[3:], LossWeights())[0]))
    assert losses[0] == losses[1]
    cfg = FitConfig(objective="seed")
    cfg.validate()  # accepted as given ...
    assert cfg.resolve((8, 8)).objective == "soft-label"  # ... and saved under its name


def test_every_objective_and_equivalent_has_its_loss_function():
    from ssvae_train.names import KINDS, OBJECTIVES

    assert set(objectives.LOSSES) == set(OBJECTIVES) | (set(KINDS) - {"ssvae"})


def test_consistency_term_is_the_kl_between_the_two_copies():
    m = tiny()
    x, _ = batch()
    x2 = x + 3.0
    got = objectives.consistency_term(m, x, x2)
    with torch.no_grad():
        p = torch.softmax(m.classify_logits(m.features(x)), -1)
        q = torch.softmax(m.classify_logits(m.features(x2)), -1)
    assert torch.allclose(got.detach(), (p * (p.log() - q.log())).sum(-1), atol=1e-6)
    assert torch.allclose(objectives.consistency_term(m, x, x), torch.zeros(len(x)), atol=1e-6)


def test_thresholded_consistency_teaches_the_first_copys_confident_class_as_a_label():
    m = tiny()
    x, _ = batch(n=8)
    x2 = x.flip(0)
    with torch.no_grad():
        p = torch.softmax(m.classify_logits(m.features(x)), -1)
        logq = torch.log_softmax(m.classify_logits(m.features(x2)), -1)
    confidence, pseudo = p.max(-1)
    ce = -logq.gather(1, pseudo[:, None])[:, 0]
    cut = float(confidence.median())  # about half the rows are confident enough
    got = objectives.consistency_term(m, x, x2, threshold=cut).detach()
    keep = confidence >= cut
    assert 0 < int(keep.sum()) < len(x)
    assert torch.allclose(got[keep], ce[keep], atol=1e-6) and torch.all(got[~keep] == 0)
    # the weight and threshold reach the term through the objective
    _, parts = objective(m, "m2", x, None, None, LossWeights(consistency=1.0, threshold=cut), x2)
    assert parts["cons"] == pytest.approx(float(got.mean()), rel=1e-5)


@pytest.mark.parametrize("name", ["m2", "soft-label"])
def test_consistency_adds_its_weighted_term_and_trains_through_the_second_copy_only(name, monkeypatch):
    m = tiny()
    x, y = batch()
    x2 = x.flip(0)  # a different "augmented copy": rows disagree
    monkeypatch.setattr(objectives, "sample_z", lambda mu, logvar: mu)
    base, p0 = objective(m, name, x, x, y, LossWeights())
    off, p_off = objective(m, name, x, x, y, LossWeights(), x2)  # weight 0: the term is off
    on, p1 = objective(m, name, x, x, y, LossWeights(consistency=1e4), x2)  # large: the loss is float32
    assert "cons" not in p0 and "cons" not in p_off and float(off) == pytest.approx(float(base))
    assert p1["cons"] > 0
    assert float(on - base) == pytest.approx(1e4 * p1["cons"], rel=1e-3)
    # the first copy is the target (detached): only the second copy's rows carry the term's gradient
    xa, xb = x.clone().requires_grad_(True), x2.clone().requires_grad_(True)
    objectives.consistency_term(m, xa, xb).sum().backward()
    assert xa.grad is None and torch.count_nonzero(xb.grad) > 0


def test_consistency_needs_augmentations_and_unlabelled_rows():
    from ssvae_train.config import FitConfig
    from ssvae_train.errors import UserError

    FitConfig(dataset="hapt", arch="convlstm", augment="jitter", consistency=1.0).validate()
    for bad in (dict(augment="none"), dict(augment="jitter", model="supervised"), dict(consistency=-1.0)):
        with pytest.raises(UserError, match="--consistency"):
            FitConfig(**{"dataset": "hapt", "arch": "convlstm", "consistency": 1.0, **bad}).validate()
    FitConfig(dataset="hapt", arch="convlstm", augment="jitter", consistency=1.0, consistency_threshold=0.95).validate()
    for bad in (dict(consistency=0.0, consistency_threshold=0.95), dict(consistency_threshold=1.0),
                dict(consistency_threshold=-0.1)):
        with pytest.raises(UserError, match="--consistency-threshold"):
            FitConfig(**{"dataset": "hapt", "arch": "convlstm", "augment": "jitter", "consistency": 1.0,
                         **bad}).validate()


@pytest.mark.parametrize("name", ["m2", "soft-label"])
def test_labelled_elbo_weight_scales_the_labelled_elbo_and_leaves_the_label_term(name):
    m = tiny()
    x, y = batch()
    torch.manual_seed(5)
    full, p = objective(m, name, None, x, y, LossWeights(alpha=2.0))
    torch.manual_seed(5)
    quarter, _ = objective(m, name, None, x, y, LossWeights(alpha=2.0, labelled_elbo=0.25))
    elbo = p["rec_l"] + p["kl_l"]  # beta = 1
    assert float(full.detach()) == pytest.approx(elbo + 2.0 * p["ce"], rel=1e-5)
    assert float(quarter.detach()) == pytest.approx(0.25 * elbo + 2.0 * p["ce"], rel=1e-5)
    torch.manual_seed(5)  # unlabelled rows keep their whole ELBO
    u1, _ = objective(m, name, x, None, None, LossWeights())
    torch.manual_seed(5)
    u2, _ = objective(m, name, x, None, None, LossWeights(labelled_elbo=0.25))
    assert float(u1.detach()) == pytest.approx(float(u2.detach()), rel=1e-6)


def test_labelled_elbo_share_is_the_labelled_rows_share_of_the_training_rows():
    from ssvae_train.config import FitConfig
    from ssvae_train.errors import UserError
    from ssvae_train.training.trainer import labelled_elbo_weight

    assert labelled_elbo_weight("equal", 61, 10_453) == 1.0
    assert labelled_elbo_weight("share", 61, 10_453) == pytest.approx(61 / 10_514)
    assert labelled_elbo_weight("share", 100, 0) == 1.0  # every row labelled: the ELBO is theirs alone
    assert labelled_elbo_weight("share", 0, 100) == 1.0  # no labelled rows: nothing to weigh
    FitConfig(labelled_elbo="share").validate()
    with pytest.raises(UserError, match="labelled.elbo"):
        FitConfig(labelled_elbo="half").validate()
