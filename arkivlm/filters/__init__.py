"""Quality filters: each a small rule that returns None (keep) or a reason (drop).

A filter applies to some modalities (and, for OCR, some formats); its thresholds come from the
`quality` section of the config. Reasons are `<filter>:<rule>`, e.g. `gopher:min_words`.
"""

from arkivlm.filters.quality import FILTERS, build_filters, quality_score, text_stats

__all__ = ["FILTERS", "build_filters", "quality_score", "text_stats"]
