//! Values as an explanation shows them: spelled as the manifest spells them (`500ms`,
//! `25%`, `250m`), so a value and the line that wrote it read alike, and so the written
//! and the resolved value of a setting compare equal exactly when they are the same.

use crate::model::{AutoscalingMetric, Delivery, IntOrPercent, IssuerRef, Mesh, Strategy};
use crate::source::Spanned;
use crate::units::{Duration, Percent, Quantity};
use serde_json::{Value, json};

pub(super) trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        json!(self)
    }
}

impl ToValue for u16 {
    fn to_value(&self) -> Value {
        json!(self)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        // Whole numbers as integers: `10` reads as written, and compares equal to the
        // same number written as `10` elsewhere.
        if self.fract() == 0.0 && self.abs() < 1e15 {
            json!(*self as i64)
        } else {
            serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number)
        }
    }
}

impl ToValue for Percent {
    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl ToValue for Duration {
    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl ToValue for Quantity {
    fn to_value(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl ToValue for IntOrPercent {
    fn to_value(&self) -> Value {
        match self {
            IntOrPercent::Int(n) => json!(n),
            IntOrPercent::Percent(p) => Value::String(format!("{p}%")),
        }
    }
}

impl ToValue for IssuerRef {
    fn to_value(&self) -> Value {
        json!({ "name": self.name, "kind": self.kind, "group": self.group })
    }
}

macro_rules! words {
    ($($t:ty),*) => {
        $(impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::String(self.as_str().to_string())
            }
        })*
    };
}

words!(Mesh, Delivery, Strategy, AutoscalingMetric);

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::Array(self.iter().map(ToValue::to_value).collect())
    }
}

impl<T: ToValue> ToValue for Spanned<T> {
    fn to_value(&self) -> Value {
        self.value.to_value()
    }
}

/// A value for people: strings bare, `null` as `none`, lists in brackets.
pub fn display(value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(display).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{k}: {}", display(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
