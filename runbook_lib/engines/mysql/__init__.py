"""engines.mysql"""
