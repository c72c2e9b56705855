"""Billing: every call rated in detail ("ghi cước chi tiết cho mỗi cuộc gọi").

``tariffs`` holds the validated ``billing:`` section of config.yaml (tariff plans, prefixes, blocks,
time bands, holidays, VAT); ``rating`` turns one call into one :class:`~billing.rating.RatedLine` that
keeps the arithmetic which produced it; ``export`` writes rated lines and per-customer statements as
CSV that is safe to open in a spreadsheet. CDR ingestion lives in its own modules of this package.
"""
