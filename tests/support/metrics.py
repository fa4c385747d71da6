"""Read /metrics the way Prometheus does: parse it all, refuse duplicates, return samples."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def scrape(server) -> dict[str, float]:
    """Sample name (with sorted labels) -> value, from a full parse of the exposition."""
    samples: dict[str, float] = {}
    seen = set()
    for family in text_string_to_metric_families(server.get_text("/metrics")):
        assert family.name not in seen, f"duplicate family {family.name}"
        seen.add(family.name)
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples
