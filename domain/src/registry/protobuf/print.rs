//! Prints a compiled `FileDescriptorProto` back as `.proto` text: the canonical form of a
//! Protobuf schema. Declarations keep their order; type names are printed fully qualified
//! (`.pkg.Message`), so the text means the same wherever it is read; map fields are
//! printed as `map<K, V>` and proto3 `optional` fields without their synthetic oneof; a
//! `json_name` is printed only where it is not the default. Comments and source positions
//! are not part of it.

use std::fmt::Write as _;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    ServiceDescriptorProto,
};

/// The field number `reserved N to max` ends at (exclusive).
const MAX_FIELD_END: i32 = 536_870_912;

pub(super) fn file(file: &FileDescriptorProto) -> String {
    let mut out = String::new();
    let proto3 = file.syntax.as_deref() == Some("proto3");
    if proto3 {
        out.push_str("syntax = \"proto3\";\n");
    } else {
        out.push_str("syntax = \"proto2\";\n");
    }
    if let Some(package) = file.package.as_deref().filter(|p| !p.is_empty()) {
        let _ = writeln!(out, "package {package};");
    }
    for (i, import) in file.dependency.iter().enumerate() {
        let index = i32::try_from(i).unwrap_or(i32::MAX);
        let kind = if file.public_dependency.contains(&index) {
            "public "
        } else if file.weak_dependency.contains(&index) {
            "weak "
        } else {
            ""
        };
        let _ = writeln!(out, "import {kind}{};", quoted(import));
    }
    if let Some(options) = &file.options {
        let strings = [
            ("java_package", &options.java_package),
            ("java_outer_classname", &options.java_outer_classname),
            ("go_package", &options.go_package),
            ("objc_class_prefix", &options.objc_class_prefix),
            ("csharp_namespace", &options.csharp_namespace),
            ("swift_prefix", &options.swift_prefix),
            ("php_class_prefix", &options.php_class_prefix),
            ("php_namespace", &options.php_namespace),
            ("php_metadata_namespace", &options.php_metadata_namespace),
            ("ruby_package", &options.ruby_package),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                let _ = writeln!(out, "option {name} = {};", quoted(value));
            }
        }
        let flags = [
            ("java_multiple_files", options.java_multiple_files),
            ("java_string_check_utf8", options.java_string_check_utf8),
            ("deprecated", options.deprecated),
            ("cc_enable_arenas", options.cc_enable_arenas),
        ];
        for (name, value) in flags {
            if let Some(value) = value {
                let _ = writeln!(out, "option {name} = {value};");
            }
        }
        if let Some(mode) = options.optimize_for {
            let mode = match mode {
                2 => "CODE_SIZE",
                3 => "LITE_RUNTIME",
                _ => "SPEED",
            };
            let _ = writeln!(out, "option optimize_for = {mode};");
        }
    }
    for message in &file.message_type {
        out.push('\n');
        print_message(&mut out, message, proto3, 0);
    }
    for kind in &file.enum_type {
        out.push('\n');
        print_enum(&mut out, kind, 0);
    }
    print_extensions(&mut out, &file.extension, proto3, 0);
    for service in &file.service {
        out.push('\n');
        print_service(&mut out, service);
    }
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\{:03o}", c as u32 & 0xff);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn print_message(out: &mut String, message: &DescriptorProto, proto3: bool, depth: usize) {
    indent(out, depth);
    let _ = writeln!(out, "message {} {{", message.name());
    let inner = depth + 1;
    if message
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        .unwrap_or(false)
    {
        indent(out, inner);
        out.push_str("option deprecated = true;\n");
    }
    print_reserved(
        out,
        message.reserved_range.iter().map(|r| (r.start(), r.end())),
        &message.reserved_name,
        inner,
    );
    let mut oneofs_done = vec![false; message.oneof_decl.len()];
    for field in &message.field {
        let oneof = field
            .oneof_index
            .filter(|_| !field.proto3_optional())
            .and_then(|i| usize::try_from(i).ok());
        match oneof {
            Some(index) if index < oneofs_done.len() => {
                if oneofs_done[index] {
                    continue;
                }
                oneofs_done[index] = true;
                indent(out, inner);
                let _ = writeln!(out, "oneof {} {{", message.oneof_decl[index].name());
                for member in message
                    .field
                    .iter()
                    .filter(|f| !f.proto3_optional() && f.oneof_index == field.oneof_index)
                {
                    print_field(out, member, message, proto3, true, inner + 1);
                }
                indent(out, inner);
                out.push_str("}\n");
            }
            _ => print_field(out, field, message, proto3, false, inner),
        }
    }
    for range in &message.extension_range {
        indent(out, inner);
        let _ = writeln!(
            out,
            "extensions {};",
            range_text(range.start(), range.end())
        );
    }
    for nested in &message.nested_type {
        if nested
            .options
            .as_ref()
            .and_then(|o| o.map_entry)
            .unwrap_or(false)
        {
            continue;
        }
        print_message(out, nested, proto3, inner);
    }
    for kind in &message.enum_type {
        print_enum(out, kind, inner);
    }
    print_extensions(out, &message.extension, proto3, inner);
    indent(out, depth);
    out.push_str("}\n");
}

fn range_text(start: i32, end: i32) -> String {
    if end >= MAX_FIELD_END {
        format!("{start} to max")
    } else if end - 1 == start {
        start.to_string()
    } else {
        format!("{start} to {}", end - 1)
    }
}

fn print_reserved(
    out: &mut String,
    ranges: impl Iterator<Item = (i32, i32)>,
    names: &[String],
    depth: usize,
) {
    let ranges: Vec<String> = ranges.map(|(start, end)| range_text(start, end)).collect();
    if !ranges.is_empty() {
        indent(out, depth);
        let _ = writeln!(out, "reserved {};", ranges.join(", "));
    }
    if !names.is_empty() {
        indent(out, depth);
        let names: Vec<String> = names.iter().map(|n| quoted(n)).collect();
        let _ = writeln!(out, "reserved {};", names.join(", "));
    }
}

/// The nested map-entry message a field's type names, if it is one.
fn map_entry<'a>(
    field: &FieldDescriptorProto,
    message: &'a DescriptorProto,
) -> Option<&'a DescriptorProto> {
    if field.r#type() != Type::Message || field.label() != Label::Repeated {
        return None;
    }
    let short = field.type_name().rsplit('.').next()?;
    message.nested_type.iter().find(|nested| {
        nested.name() == short
            && nested
                .options
                .as_ref()
                .and_then(|o| o.map_entry)
                .unwrap_or(false)
    })
}

fn type_text(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => field.type_name().to_string(),
        other => scalar(other).to_string(),
    }
}

fn scalar(kind: Type) -> &'static str {
    match kind {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Group | Type::Message | Type::Enum => "",
    }
}

/// protoc's default `json_name`: lowerCamelCase of the field name.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn print_field(
    out: &mut String,
    field: &FieldDescriptorProto,
    message: &DescriptorProto,
    proto3: bool,
    in_oneof: bool,
    depth: usize,
) {
    indent(out, depth);
    let kind = match map_entry(field, message) {
        Some(entry) => {
            let key = entry.field.iter().find(|f| f.number() == 1);
            let value = entry.field.iter().find(|f| f.number() == 2);
            format!(
                "map<{}, {}>",
                key.map(type_text).unwrap_or_default(),
                value.map(type_text).unwrap_or_default()
            )
        }
        None => {
            let label = match field.label() {
                _ if in_oneof => "",
                Label::Repeated => "repeated ",
                Label::Required => "required ",
                Label::Optional if field.proto3_optional() || !proto3 => "optional ",
                Label::Optional => "",
            };
            format!("{label}{}", type_text(field))
        }
    };
    let _ = write!(out, "{kind} {} = {}", field.name(), field.number());
    let mut options = Vec::new();
    if let Some(default) = &field.default_value {
        let value = match field.r#type() {
            Type::String => quoted(default),
            // A bytes default is kept C-escaped in the descriptor already.
            Type::Bytes => format!("\"{default}\""),
            _ => default.clone(),
        };
        options.push(format!("default = {value}"));
    }
    if let Some(json_name) = field
        .json_name
        .as_deref()
        .filter(|json| *json != default_json_name(field.name()))
    {
        options.push(format!("json_name = {}", quoted(json_name)));
    }
    if let Some(field_options) = &field.options {
        if let Some(packed) = field_options.packed {
            options.push(format!("packed = {packed}"));
        }
        if let Some(true) = field_options.deprecated {
            options.push("deprecated = true".to_string());
        }
    }
    if !options.is_empty() {
        let _ = write!(out, " [{}]", options.join(", "));
    }
    out.push_str(";\n");
}

fn print_enum(out: &mut String, kind: &EnumDescriptorProto, depth: usize) {
    indent(out, depth);
    let _ = writeln!(out, "enum {} {{", kind.name());
    let inner = depth + 1;
    if let Some(options) = &kind.options {
        if let Some(allow) = options.allow_alias {
            indent(out, inner);
            let _ = writeln!(out, "option allow_alias = {allow};");
        }
        if let Some(true) = options.deprecated {
            indent(out, inner);
            out.push_str("option deprecated = true;\n");
        }
    }
    print_reserved(
        out,
        // Enum reserved ranges are inclusive.
        kind.reserved_range
            .iter()
            .map(|r| (r.start(), r.end().saturating_add(1))),
        &kind.reserved_name,
        inner,
    );
    for value in &kind.value {
        indent(out, inner);
        let deprecated = value
            .options
            .as_ref()
            .and_then(|o| o.deprecated)
            .unwrap_or(false);
        let _ = writeln!(
            out,
            "{} = {}{};",
            value.name(),
            value.number(),
            if deprecated {
                " [deprecated = true]"
            } else {
                ""
            }
        );
    }
    indent(out, depth);
    out.push_str("}\n");
}

fn print_extensions(
    out: &mut String,
    extensions: &[FieldDescriptorProto],
    proto3: bool,
    depth: usize,
) {
    // One `extend` block per run of extensions of the same message, in declaration order:
    // the file compiled again lists its extensions as this one does.
    let empty = DescriptorProto::default();
    for run in extensions.chunk_by(|a, b| a.extendee() == b.extendee()) {
        let extendee = run.first().map_or("", FieldDescriptorProto::extendee);
        indent(out, depth);
        let _ = writeln!(out, "extend {extendee} {{");
        for extension in run {
            print_field(out, extension, &empty, proto3, false, depth + 1);
        }
        indent(out, depth);
        out.push_str("}\n");
    }
}

fn print_service(out: &mut String, service: &ServiceDescriptorProto) {
    let _ = writeln!(out, "service {} {{", service.name());
    for method in &service.method {
        let stream = |yes: bool| if yes { "stream " } else { "" };
        let _ = writeln!(
            out,
            "  rpc {}({}{}) returns ({}{});",
            method.name(),
            stream(method.client_streaming()),
            method.input_type(),
            stream(method.server_streaming()),
            method.output_type()
        );
    }
    out.push_str("}\n");
}
