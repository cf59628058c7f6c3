"""Pure rules of the domains: no database session, no model queries; plain values in, values out."""
