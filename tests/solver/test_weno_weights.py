"""numerics.weno_weights: WENO-Z by default, WENO-JS selectable; a bad value is one clear error."""

from __future__ import annotations

import numpy as np
import pytest

from solver.errors import ScenarioError
from solver.kernels import link as K
from solver.road.simulate import build_road, simulate
from solver.scenario.loader import load_mapping

BASE = {
    "name": "t",
    "road": {"length": "1 km", "cells": 60},
    "initial": {"type": "sine", "background": {"rho_m": "100 veh/km", "v_m": "30 km/h"},
                "amplitude": {"rho_m": "80 veh/km"}, "periods": 2},
    "boundary": {"left": "periodic", "right": "periodic"},
    "time": {"end": "20 s", "output_every": "20 s"},
}  # fmt: skip


def _scenario(**numerics):
    return load_mapping({**BASE, "numerics": {"reconstruction": "weno5", **numerics}})


def test_weno_z_is_the_default_and_js_is_selectable():
    assert build_road(_scenario()).setup.order == K.WENO5
    assert build_road(_scenario(weno_weights="z")).setup.order == K.WENO5
    assert build_road(_scenario(weno_weights="js")).setup.order == K.WENO5_JS
    assert build_road(load_mapping({**BASE, "numerics": {"reconstruction": "first_order", "weno_weights": "js"}})
                      ).setup.order == K.FIRST_ORDER


def test_the_two_weights_give_different_runs_of_the_same_mass():
    z, js = simulate(_scenario()), simulate(_scenario(weno_weights="js"))
    diff = np.abs(z.fields["rho_m"][-1] - js.fields["rho_m"][-1]).max()
    assert diff > 1e-6  # veh/m: the flag reaches the kernel (not the same scheme)
    assert z.fields["rho_m"][-1].sum() == pytest.approx(js.fields["rho_m"][-1].sum(), rel=1e-13)


def test_an_unknown_weight_family_names_the_key():
    with pytest.raises(ScenarioError) as err:
        _scenario(weno_weights="zz")
    text = str(err.value)
    assert "numerics.weno_weights" in text and "'z'" in text and "js" in text
