"""The arithmetic behind benchmarks.ppo_ceiling's bound on Adam PPO's update (no JAX compile)."""

import numpy as np

from benchmarks.ppo_ceiling import dense_layer_shapes, mlp_training_flops


def test_training_flops_count_forward_weight_and_input_gradients_by_hand():
    # Layers 3->4 and 4->2 over 5 rows: forward 2*5*12 + 2*5*8 = 200; the weight gradients the same again, 200;
    # the input gradient of the second layer only (the observations need none), 2*5*8 = 80.
    assert mlp_training_flops([(3, 4), (4, 2)], batch=5) == 480


def test_one_layer_has_no_input_gradient():
    assert mlp_training_flops([(10, 1)], batch=7) == 2 * (2 * 7 * 10)


def test_dense_layer_shapes_follow_layer_numbers_not_name_order():
    params = {"params": {f"Dense_{index}": {"kernel": np.zeros(shape), "bias": np.zeros(shape[1])}
                         for index, shape in enumerate([(5, 11), (11, 7), (7, 3), (3, 3), (3, 3), (3, 3), (3, 3),
                                                        (3, 3), (3, 3), (3, 3), (3, 2)])}}
    shapes = dense_layer_shapes(params)
    assert shapes[:3] == [(5, 11), (11, 7), (7, 3)] and shapes[-1] == (3, 2) and len(shapes) == 11
