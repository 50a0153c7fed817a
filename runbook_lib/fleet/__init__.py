"""The fleet: many databases across Regions and accounts (inventory, Extended Support cost, and later readiness and
batch runs). Nothing here keeps global state: clients and tables are passed in."""
