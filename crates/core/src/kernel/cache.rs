//! A small time-bounded cache for values that are read on every request and change rarely
//! (ingest keys, custom prices). Time comes in as a parameter, so it is tested on the host.

use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;

/// A cache of values of type `V`. Its map holds the values as `dyn Any`, so that the caches of
/// every value type share one compiled map (each `HashMap` type is its own copy of the table's
/// code in the wasm).
#[derive(Debug)]
pub struct TtlCache<V> {
    entries: Entries,
    value: PhantomData<V>,
}

#[derive(Debug)]
struct Entries {
    map: HashMap<String, (Box<dyn Any>, i64)>,
    ttl_ms: i64,
    capacity: usize,
}

impl Entries {
    fn put(&mut self, key: &str, value: Box<dyn Any>, now_ms: i64) {
        if self.map.len() >= self.capacity && !self.map.contains_key(key) {
            self.map.retain(|_, (_, expires)| *expires > now_ms);
            if self.map.len() >= self.capacity {
                self.map.clear();
            }
        }
        self.map
            .insert(key.to_string(), (value, now_ms + self.ttl_ms));
    }
}

impl<V: Clone + 'static> TtlCache<V> {
    pub fn new(ttl_ms: i64, capacity: usize) -> Self {
        Self {
            entries: Entries {
                map: HashMap::new(),
                ttl_ms,
                capacity: capacity.max(1),
            },
            value: PhantomData,
        }
    }

    /// The value stored under `key` unless it is older than the time to live.
    pub fn get(&mut self, key: &str, now_ms: i64) -> Option<V> {
        match self.entries.map.get(key) {
            Some((value, expires)) if *expires > now_ms => {
                return value.downcast_ref::<V>().cloned()
            }
            Some(_) => {}
            None => return None,
        }
        self.entries.map.remove(key);
        None
    }

    /// Stores a value; when full, expired entries go first, then everything.
    pub fn put(&mut self, key: &str, value: V, now_ms: i64) {
        self.entries.put(key, Box::new(value), now_ms);
    }

    pub fn clear(&mut self) {
        self.entries.map.clear();
    }

    /// Forgets one entry.
    pub fn remove(&mut self, key: &str) {
        self.entries.map.remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::TtlCache;

    #[test]
    fn a_value_is_served_until_its_time_to_live_ends() {
        let mut cache = TtlCache::new(1000, 10);
        cache.put("k", 7, 0);
        assert_eq!(cache.get("k", 999), Some(7));
        assert_eq!(cache.get("k", 1000), None);
        assert!(cache.is_empty(), "an expired entry is dropped when read");
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_never_grows_past_its_capacity() {
        let mut cache = TtlCache::new(1000, 2);
        cache.put("old", 1, 0);
        cache.put("new", 2, 900);
        cache.put("third", 3, 1500);
        assert_eq!(
            (cache.get("old", 1500), cache.get("new", 1500)),
            (None, Some(2))
        );
        cache.put("fourth", 4, 1500);
        assert!(cache.len() <= 2);
        assert_eq!(cache.get("fourth", 1500), Some(4));
    }
}
