-- Custom prices: entries that override or extend the built-in catalog, globally (scope '')
-- or for one project (scope = project id). One row per provider, model, date and scope; the
-- entry itself is kept as the JSON a client sends.
CREATE TABLE custom_prices (
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL DEFAULT '',
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  effective_from TEXT NOT NULL,
  entry_json TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (provider, model, effective_from, scope)
);

-- Every name (model and aliases) a custom entry answers to, as `provider|name`, so that
-- pricing a batch loads only the entries its events can use.
CREATE TABLE custom_price_names (
  lookup TEXT NOT NULL,
  price_id TEXT NOT NULL,
  PRIMARY KEY (lookup, price_id)
);
CREATE INDEX custom_price_names_by_price ON custom_price_names (price_id);
