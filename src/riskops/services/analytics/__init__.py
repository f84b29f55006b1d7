"""Operations analytics over DuckDB: the data every analysis reads
(:mod:`~riskops.services.analytics.data`), RFM segments, CLV, cohorts, funnels, carts, channels
and reviews."""
