"""Cluster settings are checked like every other setting, and a missing Ray says what to install."""
from __future__ import annotations

import sys

import pytest

from server.config import ConfigError, load_config


@pytest.mark.parametrize("argv, expected", [
    (["--cluster", "k8s"], "cluster: expected 'ray', 'local' or 'ray://HEAD:PORT', got 'k8s'"),
    (["--cluster", "ray", "--cluster-min-replicas", "5", "--cluster-max-replicas", "2"],
     "cluster_min_replicas: expected at most cluster_max_replicas (2), got 5"),
    (["--cluster-gpus-per-replica", "-1"], "cluster_gpus_per_replica (from --cluster-gpus-per-replica): expected at least"),
])
def test_bad_cluster_settings_are_named(argv, expected):
    with pytest.raises(ConfigError) as info:
        load_config(argv, environ={})
    assert expected in str(info.value)


def test_autoscaling_bounds_come_from_the_config_file(tmp_path):
    toml = tmp_path / "server.toml"
    toml.write_text('[server]\ncluster = "ray"\ncluster_min_replicas = 1\ncluster_max_replicas = 6\n'
                    'cluster_gpus_per_replica = 0.5\n')
    cfg = load_config(["--config", str(toml)], environ={})
    assert (cfg.cluster, cfg.cluster_min_replicas, cfg.cluster_max_replicas, cfg.cluster_gpus_per_replica) == \
        ("ray", 1, 6, 0.5)
    from server.cluster.runner import ClusterSettings
    assert ClusterSettings(min_replicas=1, max_replicas=6).slots == 6 and ClusterSettings(replicas=3).slots == 3


def test_cluster_without_ray_installed_says_what_to_install(monkeypatch):
    from server.cli import StartupError, build_service
    monkeypatch.setitem(sys.modules, "ray", None)          # as if the extra were not installed
    for name in [m for m in sys.modules if m.startswith("server.cluster")]:
        monkeypatch.delitem(sys.modules, name)
    cfg = load_config(["--cluster", "ray", "--backend", "tests.server.fake_backend:create"], environ={})
    with pytest.raises(StartupError) as info:
        build_service(cfg)
    assert "pip install 'trackgo-blender[cluster]'" in str(info.value)
