"""lab.api"""
