-- What Concord needs in the Northwind ERP (from concord init's proposal, concord-ddl-erp.sql):
-- change detection (updated_at, kept by a trigger) and a unique link column per table.
-- customers (account): change detection and links for Concord
ALTER TABLE "customers" ADD COLUMN "updated_at" timestamptz NOT NULL DEFAULT now();
CREATE INDEX "customers_updated_at_idx" ON "customers" ("updated_at", "customer_id");
CREATE FUNCTION "customers_updated_at_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."updated_at" IS NOT DISTINCT FROM OLD."updated_at" THEN NEW."updated_at" := clock_timestamp(); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER "customers_updated_at_touch" BEFORE UPDATE ON "customers" FOR EACH ROW EXECUTE FUNCTION "customers_updated_at_touch"();
ALTER TABLE "customers" ADD COLUMN "crm_id" TEXT;
CREATE UNIQUE INDEX "customers_crm_id_key" ON "customers" ("crm_id");

-- products (product): change detection and links for Concord
ALTER TABLE "products" ADD COLUMN "updated_at" timestamptz NOT NULL DEFAULT now();
CREATE INDEX "products_updated_at_idx" ON "products" ("updated_at", "product_id");
CREATE FUNCTION "products_updated_at_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."updated_at" IS NOT DISTINCT FROM OLD."updated_at" THEN NEW."updated_at" := clock_timestamp(); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER "products_updated_at_touch" BEFORE UPDATE ON "products" FOR EACH ROW EXECUTE FUNCTION "products_updated_at_touch"();
ALTER TABLE "products" ADD COLUMN "crm_id" TEXT;
CREATE UNIQUE INDEX "products_crm_id_key" ON "products" ("crm_id");

