"""bench/linkpred_inductive.py: which entities are held out, and the neighbour-mean rule, on hand-made tensors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch


@pytest.fixture(scope="module")
def ind(load_bench):
    return load_bench("linkpred_inductive")


def test_new_entities_come_from_the_test_split_within_the_degree_range(ind):
    # training degrees: 0:3, 1:1, 2:2, 3:2, 4:0; the test split names 0, 1, 3 and 4
    train = torch.tensor([[0, 0, 1], [0, 0, 2], [0, 1, 3], [2, 1, 3]])
    test = torch.tensor([[0, 0, 3], [1, 0, 4]])
    data = SimpleNamespace(train=train, test=test, num_entities=5)
    assert ind.pick_new(data, 2, 0, 2, 3).tolist() == [0, 3]  # 2 has degree 2 but is not in test; 1 and 4 are below 2
    assert ind.pick_new(data, 1, 0, 2, 3).tolist() in ([0], [3])
    with pytest.raises(SystemExit, match="only 2 test entities"):
        ind.pick_new(data, 3, 0, 2, 3)


def test_a_new_entity_gets_the_mean_of_its_known_neighbours_in_either_direction(ind):
    ent = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0], [9.0, 9.0], [5.0, 5.0]])
    is_new = torch.tensor([False, False, False, True, True])
    # 3 is new: tail of 0, head towards 1, and linked to new 4 (ignored); 4 has only new neighbours
    edges = torch.tensor([[0, 0, 3], [3, 1, 1], [4, 0, 3]])
    out = ind.neighbour_mean(ent, edges, is_new)
    assert out[3].tolist() == [0.5, 0.5]
    assert out[4].tolist() == [0.0, 0.0]  # no known neighbour: nothing to average
    assert torch.equal(out[:3], ent[:3])
