-- A table materialization over a source table the test creates; re-running it replaces the
-- table in place, which must work after the engine that first built it is gone.
select customer, sum(amount) as total, count(*) as orders
from {{ env_var('DBT_SPARK_SCHEMA') }}.raw_orders
group by customer
