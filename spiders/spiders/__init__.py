"""Spiders of the linecolor Scrapy project."""
