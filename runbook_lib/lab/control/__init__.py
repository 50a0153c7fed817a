"""lab.control"""
