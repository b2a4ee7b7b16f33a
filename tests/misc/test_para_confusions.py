"""bench/para_confusions.py: labelling a top answer by the relations that join it to the topic, hand-checked."""

from __future__ import annotations

import numpy as np
import pytest

from kgfm.store.base import GraphTensors


@pytest.fixture(scope="module")
def conf(load_bench):
    return load_bench("para_confusions")


def tiny_graph() -> GraphTensors:
    # 0 Film -starred_actors-> 1 Ann; 0 -has_tags-> 2 "ann"; 0 -directed_by-> 3 Bo; 0 -written_by-> 3 Bo
    return GraphTensors(
        entity_ids=["film", "ann", "ann_tag", "bo"], entity_names=["Film", "Ann", "ann", "Bo"],
        relation_types=["starred_actors", "has_tags", "directed_by", "written_by"],
        relation_predicates=["starred_actors", "has_tags", "directed_by", "written_by"],
        head_index=np.array([0, 0, 0, 0]), rel_type=np.array([0, 1, 2, 3]), tail_index=np.array([1, 2, 3, 3]))


def test_edges_are_read_both_ways_and_parallel_relations_kept(conf):
    rels = conf.edge_relations(tiny_graph())
    assert rels[(0, 1)] == {"starred_actors"} and rels[(1, 0)] == {"starred_actors^-1"}
    assert rels[(0, 2)] == {"has_tags"}
    assert rels[(0, 3)] == {"directed_by", "written_by"} and rels[(3, 0)] == {"directed_by^-1", "written_by^-1"}
    assert (1, 2) not in rels  # no edge between the actor and the tag


def test_label_is_sorted_and_names_a_missing_edge(conf):
    rels = conf.edge_relations(tiny_graph())
    assert conf.label(rels[(0, 3)]) == "directed_by+written_by"
    assert conf.label(rels.get((1, 2), set())) == "(no edge)"
