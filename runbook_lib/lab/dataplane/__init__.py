"""lab.dataplane"""
