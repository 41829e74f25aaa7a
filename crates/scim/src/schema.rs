//! The supported User attribute set and the discovery documents
//! (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`).
//!
//! Resources are JSON objects laid out as on the wire: core attributes at the top level, the
//! enterprise extension's attributes inside an object under [`ENTERPRISE_USER_SCHEMA`].

use serde_json::{Map, Value, json};

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// PATCH request message URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// List response message URN.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// `POST /.search` request message URN.
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// ServiceProviderConfig schema URN.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema (the schema of schemas) URN.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `filter.maxResults` advertised in the ServiceProviderConfig: the cap on `count`.
pub const MAX_RESULTS: usize = 200;

/// Attribute data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime` (RFC 3339 / xsd:dateTime).
    DateTime,
    /// `reference` (URI).
    Reference,
    /// `complex`.
    Complex,
    /// `binary`.
    Binary,
}

impl AttrType {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
            AttrType::Binary => "binary",
        }
    }

    /// Whether values of this type are JSON strings.
    pub fn is_stringy(self) -> bool {
        matches!(
            self,
            AttrType::String | AttrType::DateTime | AttrType::Reference | AttrType::Binary
        )
    }
}

/// Attribute mutability (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only.
    ReadOnly,
    /// Freely updatable.
    ReadWrite,
    /// Settable once.
    Immutable,
    /// Never returned.
    WriteOnly,
}

impl Mutability {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never.
    Never,
    /// Unless excluded.
    Default,
    /// Only when requested.
    Request,
}

impl Returned {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// Uniqueness of an attribute's values (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the service provider (here: the organization).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// Which schema an attribute belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaId {
    /// `urn:ietf:params:scim:schemas:core:2.0:User` (and the common attributes).
    Core,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Enterprise,
}

impl SchemaId {
    /// The schema URN.
    pub fn urn(self) -> &'static str {
        match self {
            SchemaId::Core => USER_SCHEMA,
            SchemaId::Enterprise => ENTERPRISE_USER_SCHEMA,
        }
    }

    /// The attribute definitions of this schema (core includes the common attributes).
    pub fn attributes(self) -> &'static [AttrDef] {
        match self {
            SchemaId::Core => &USER_ATTRIBUTES,
            SchemaId::Enterprise => &ENTERPRISE_ATTRIBUTES,
        }
    }

    /// Looks a schema up by URN (case-insensitive).
    pub fn from_urn(urn: &str) -> Option<SchemaId> {
        if urn.eq_ignore_ascii_case(USER_SCHEMA) {
            Some(SchemaId::Core)
        } else if urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            Some(SchemaId::Enterprise)
        } else {
            None
        }
    }
}

/// Metadata of one attribute or sub-attribute.
#[derive(Debug, Clone, Copy)]
pub struct AttrDef {
    /// Canonical name.
    pub name: &'static str,
    /// Data type.
    pub ty: AttrType,
    /// Whether the attribute holds a JSON array.
    pub multi_valued: bool,
    /// Whether the attribute is required.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// Returned-ness.
    pub returned: Returned,
    /// Uniqueness.
    pub uniqueness: Uniqueness,
    /// Suggested values (`canonicalValues`).
    pub canonical_values: &'static [&'static str],
    /// Reference types for `reference` attributes.
    pub reference_types: &'static [&'static str],
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttrDef],
    /// Human-readable description.
    pub description: &'static str,
    /// A common attribute (`id`, `externalId`, `meta`, `schemas`): not listed in `/Schemas`.
    pub common: bool,
}

impl AttrDef {
    const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        AttrDef {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description,
            common: false,
        }
    }
    const fn multi(self) -> Self {
        AttrDef {
            multi_valued: true,
            ..self
        }
    }
    const fn required(self) -> Self {
        AttrDef {
            required: true,
            ..self
        }
    }
    const fn case_exact(self) -> Self {
        AttrDef {
            case_exact: true,
            ..self
        }
    }
    const fn mutability(self, mutability: Mutability) -> Self {
        AttrDef { mutability, ..self }
    }
    const fn returned(self, returned: Returned) -> Self {
        AttrDef { returned, ..self }
    }
    const fn unique(self) -> Self {
        AttrDef {
            uniqueness: Uniqueness::Server,
            ..self
        }
    }
    const fn canonical(self, canonical_values: &'static [&'static str]) -> Self {
        AttrDef {
            canonical_values,
            ..self
        }
    }
    const fn refs(self, reference_types: &'static [&'static str]) -> Self {
        AttrDef {
            reference_types,
            ..self
        }
    }
    const fn subs(self, sub_attributes: &'static [AttrDef]) -> Self {
        AttrDef {
            sub_attributes,
            ..self
        }
    }
    const fn common(self) -> Self {
        AttrDef {
            common: true,
            ..self
        }
    }

    /// Finds a sub-attribute by name (case-insensitive).
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether this is a complex attribute.
    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// Whether clients may write this attribute.
    pub fn is_writable(&self) -> bool {
        matches!(
            self.mutability,
            Mutability::ReadWrite | Mutability::WriteOnly | Mutability::Immutable
        )
    }

    /// The attribute's schema-document representation.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if self.ty != AttrType::Complex {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(AttrDef::to_json).collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(m)
    }
}

use AttrType as T;

static META_SUBS: [AttrDef; 5] = [
    AttrDef::new("resourceType", T::String, "The name of the resource type.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
    AttrDef::new("created", T::DateTime, "When the resource was added.")
        .mutability(Mutability::ReadOnly),
    AttrDef::new(
        "lastModified",
        T::DateTime,
        "When the resource was last updated.",
    )
    .mutability(Mutability::ReadOnly),
    AttrDef::new("location", T::Reference, "The URI of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .refs(&["uri"]),
    AttrDef::new("version", T::String, "The version (ETag) of the resource.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
];

static NAME_SUBS: [AttrDef; 6] = [
    AttrDef::new(
        "formatted",
        T::String,
        "The full name, formatted for display.",
    ),
    AttrDef::new("familyName", T::String, "The family name (last name)."),
    AttrDef::new("givenName", T::String, "The given name (first name)."),
    AttrDef::new("middleName", T::String, "The middle name(s)."),
    AttrDef::new(
        "honorificPrefix",
        T::String,
        "The honorific prefix(es), e.g. 'Ms.'.",
    ),
    AttrDef::new(
        "honorificSuffix",
        T::String,
        "The honorific suffix(es), e.g. 'III'.",
    ),
];

static EMAIL_SUBS: [AttrDef; 3] = [
    AttrDef::new("value", T::String, "The email address.").required(),
    AttrDef::new("type", T::String, "A label: 'work', 'home' or 'other'.")
        .canonical(&["work", "home", "other"]),
    AttrDef::new(
        "primary",
        T::Boolean,
        "Whether this is the primary email address.",
    ),
];

static PHONE_SUBS: [AttrDef; 3] = [
    AttrDef::new("value", T::String, "The phone number."),
    AttrDef::new(
        "type",
        T::String,
        "A label: 'work', 'home', 'mobile', 'fax', 'pager' or 'other'.",
    )
    .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    AttrDef::new(
        "primary",
        T::Boolean,
        "Whether this is the primary phone number.",
    ),
];

static MANAGER_SUBS: [AttrDef; 3] = [
    AttrDef::new("value", T::String, "The id of the manager's SCIM resource."),
    AttrDef::new(
        "$ref",
        T::Reference,
        "The URI of the manager's SCIM resource.",
    )
    .refs(&["User"]),
    AttrDef::new("displayName", T::String, "The manager's display name.")
        .mutability(Mutability::ReadOnly),
];

/// Core User attributes, common attributes first.
pub static USER_ATTRIBUTES: [AttrDef; 10] = [
    AttrDef::new(
        "id",
        T::String,
        "Identifier assigned by the service provider.",
    )
    .case_exact()
    .mutability(Mutability::ReadOnly)
    .returned(Returned::Always)
    .unique()
    .common(),
    AttrDef::new(
        "externalId",
        T::String,
        "Identifier assigned by the client.",
    )
    .case_exact()
    .common(),
    AttrDef::new("meta", T::Complex, "Resource metadata.")
        .mutability(Mutability::ReadOnly)
        .subs(&META_SUBS)
        .common(),
    AttrDef::new("schemas", T::Reference, "The schemas of the resource.")
        .multi()
        .case_exact()
        .returned(Returned::Always)
        .refs(&["uri"])
        .common(),
    AttrDef::new(
        "userName",
        T::String,
        "Unique identifier for the User, typically used to sign in.",
    )
    .required()
    .returned(Returned::Always)
    .unique(),
    AttrDef::new("name", T::Complex, "The components of the user's name.").subs(&NAME_SUBS),
    AttrDef::new(
        "displayName",
        T::String,
        "The name of the User, for display.",
    ),
    AttrDef::new(
        "emails",
        T::Complex,
        "Email addresses of the User. Every member needs one (a userName that is an email \
         address also serves); the primary one is the member's email.",
    )
    .multi()
    .required()
    .subs(&EMAIL_SUBS),
    AttrDef::new("phoneNumbers", T::Complex, "Phone numbers of the User.")
        .multi()
        .subs(&PHONE_SUBS),
    AttrDef::new("active", T::Boolean, "The User's administrative status."),
];

/// Enterprise User extension attributes supported here.
pub static ENTERPRISE_ATTRIBUTES: [AttrDef; 3] = [
    AttrDef::new(
        "employeeNumber",
        T::String,
        "Numeric or alphanumeric identifier assigned by the organization.",
    ),
    AttrDef::new("department", T::String, "Name of a department."),
    AttrDef::new("manager", T::Complex, "The User's manager.").subs(&MANAGER_SUBS),
];

/// Core User attributes of RFC 7643 that are not stored here: POST, PUT and PATCH accept and
/// ignore them (identity providers map some by default, e.g. Entra's `title` and `addresses`).
pub const IGNORED_CORE_ATTRIBUTES: &[&str] = &[
    "password",
    "groups",
    "locale",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "timezone",
    "addresses",
    "ims",
    "photos",
    "entitlements",
    "roles",
    "x509Certificates",
];

/// Enterprise User attributes of RFC 7643 that are not stored here (accepted and ignored).
pub const IGNORED_ENTERPRISE_ATTRIBUTES: &[&str] = &["costCenter", "organization", "division"];

/// Whether `name` (in `schema`) is an RFC 7643 attribute that is accepted and ignored.
pub fn is_ignored_attribute(schema: SchemaId, name: &str) -> bool {
    let list = match schema {
        SchemaId::Core => IGNORED_CORE_ATTRIBUTES,
        SchemaId::Enterprise => IGNORED_ENTERPRISE_ATTRIBUTES,
    };
    list.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// An attribute path resolved against the schema.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr {
    /// The schema holding the top-level attribute.
    pub schema: SchemaId,
    /// The top-level attribute.
    pub attr: &'static AttrDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static AttrDef>,
}

impl ResolvedAttr {
    /// The attribute the path designates (the sub-attribute if any).
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Canonical dotted name, URN-qualified for extension attributes.
    pub fn canonical_name(&self) -> String {
        let mut s = String::new();
        if self.schema == SchemaId::Enterprise {
            s.push_str(ENTERPRISE_USER_SCHEMA);
            s.push(':');
        }
        s.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }
}

/// Finds a top-level attribute. With a URN, only that schema is searched; without one, the
/// core schema first and then the enterprise extension. Names are case-insensitive.
pub fn find_attribute(urn: Option<&str>, name: &str) -> Option<(SchemaId, &'static AttrDef)> {
    let schemas: &[SchemaId] = match urn {
        Some(u) => match SchemaId::from_urn(u) {
            Some(SchemaId::Core) => &[SchemaId::Core],
            Some(SchemaId::Enterprise) => &[SchemaId::Enterprise],
            None => return None,
        },
        None => &[SchemaId::Core, SchemaId::Enterprise],
    };
    schemas.iter().find_map(|s| {
        s.attributes()
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| (*s, a))
    })
}

/// Resolves `[urn:]name[.sub]`; `None` when any part is unknown.
pub fn resolve(urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<ResolvedAttr> {
    let (schema, attr) = find_attribute(urn, name)?;
    let sub = match sub {
        Some(s) => Some(attr.sub(s)?),
        None => None,
    };
    Some(ResolvedAttr { schema, attr, sub })
}

/// Looks up a key in a JSON object: exact match first, then case-insensitive.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The actual key under which `key` is stored (exact first, then case-insensitive).
pub fn find_key_ci(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_owned());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// The value of a top-level attribute of a User resource, if any.
pub fn attribute_value<'a>(resource: &'a Value, schema: SchemaId, name: &str) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    match schema {
        SchemaId::Core => get_ci(obj, name),
        SchemaId::Enterprise => get_ci(get_ci(obj, ENTERPRISE_USER_SCHEMA)?.as_object()?, name),
    }
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// `GET /ServiceProviderConfig`: exactly what is implemented.
pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a SCIM bearer token issued by the organization.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base(base_url))
        }
    })
}

/// The `User` ResourceType document.
pub fn user_resource_type(base_url: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/User", base(base_url))
        }
    })
}

/// The `Group` ResourceType document.
pub fn group_resource_type(base_url: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": crate::group::GROUP_SCHEMA,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/Group", base(base_url))
        }
    })
}

/// `GET /ResourceTypes`: a ListResponse with the User and Group resource types.
pub fn resource_types(base_url: &str) -> Value {
    crate::resource::list_response(
        vec![user_resource_type(base_url), group_resource_type(base_url)],
        2,
        1,
    )
}

/// `GET /ResourceTypes/{id}` (`id` case-insensitive); `None` when unknown.
pub fn resource_type_by_id(base_url: &str, id: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case("User") {
        Some(user_resource_type(base_url))
    } else if id.eq_ignore_ascii_case("Group") {
        Some(group_resource_type(base_url))
    } else {
        None
    }
}

/// The read-only `groups` attribute of Users (RFC 7643 §4.1.2), listed in the User schema: a
/// member's groups are changed through `/Groups` only.
fn user_groups_attribute() -> Value {
    let sub = |name: &str, ty: &str, description: &str| {
        json!({
            "name": name, "type": ty, "multiValued": false, "description": description,
            "required": false, "caseExact": false, "mutability": "readOnly",
            "returned": "default", "uniqueness": "none"
        })
    };
    let mut reference = sub("$ref", "reference", "The URI of the Group.");
    reference["referenceTypes"] = json!(["Group"]);
    json!({
        "name": "groups", "type": "complex", "multiValued": true,
        "description": "The groups the User belongs to; changed through /Groups.",
        "required": false, "caseExact": false, "mutability": "readOnly",
        "returned": "default", "uniqueness": "none",
        "subAttributes": [
            sub("value", "string", "The id of the Group."),
            reference,
            sub("display", "string", "The Group's displayName."),
            sub("type", "string", "direct: the User is a member of the Group itself."),
        ]
    })
}

/// The core Group schema document.
pub fn group_schema(base_url: &str) -> Value {
    let attr = |name: &str, ty: &str, required: bool, case_exact: bool, description: &str| {
        json!({
            "name": name, "type": ty, "multiValued": false, "description": description,
            "required": required, "caseExact": case_exact, "mutability": "readWrite",
            "returned": "default", "uniqueness": if name == "displayName" { "server" } else { "none" }
        })
    };
    let mut member_ref = attr("$ref", "reference", false, false, "The URI of the member.");
    member_ref["referenceTypes"] = json!(["User"]);
    member_ref["mutability"] = json!("immutable");
    let mut value = attr("value", "string", false, true, "The id of the member User.");
    value["mutability"] = json!("immutable");
    let mut ty = attr("type", "string", false, false, "The type of the member.");
    ty["canonicalValues"] = json!(["User"]);
    ty["mutability"] = json!("immutable");
    let mut display = attr(
        "display",
        "string",
        false,
        false,
        "The member's display name.",
    );
    display["mutability"] = json!("readOnly");
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": crate::group::GROUP_SCHEMA,
        "name": "Group",
        "description": "Group",
        "attributes": [
            attr("displayName", "string", true, false, "A human-readable name for the Group, unique in the organization."),
            {
                "name": "members", "type": "complex", "multiValued": true,
                "description": "The members of the Group (Users of this organization).",
                "required": false, "caseExact": false, "mutability": "readWrite",
                "returned": "default", "uniqueness": "none",
                "subAttributes": [value, member_ref, ty, display]
            }
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base(base_url), crate::group::GROUP_SCHEMA)
        }
    })
}

fn schema_document(base_url: &str, schema: SchemaId) -> Value {
    let (name, description) = match schema {
        SchemaId::Core => ("User", "User Account"),
        SchemaId::Enterprise => ("EnterpriseUser", "Enterprise User"),
    };
    let attributes: Vec<Value> = schema
        .attributes()
        .iter()
        .filter(|a| !a.common)
        .map(AttrDef::to_json)
        .collect();
    let mut attributes = attributes;
    if schema == SchemaId::Core {
        attributes.push(user_groups_attribute());
    }
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.urn(),
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base(base_url), schema.urn())
        }
    })
}

/// The core User schema document.
pub fn user_schema(base_url: &str) -> Value {
    schema_document(base_url, SchemaId::Core)
}

/// The Enterprise User extension schema document (supported attributes only).
pub fn enterprise_user_schema(base_url: &str) -> Value {
    schema_document(base_url, SchemaId::Enterprise)
}

/// `GET /Schemas`: a ListResponse with the User, Enterprise User and Group schema documents.
pub fn schemas(base_url: &str) -> Value {
    crate::resource::list_response(
        vec![
            user_schema(base_url),
            enterprise_user_schema(base_url),
            group_schema(base_url),
        ],
        3,
        1,
    )
}

/// `GET /Schemas/{urn}` (URN case-insensitive); `None` when unknown.
pub fn schema_by_id(base_url: &str, id: &str) -> Option<Value> {
    if id.eq_ignore_ascii_case(crate::group::GROUP_SCHEMA) {
        return Some(group_schema(base_url));
    }
    SchemaId::from_urn(id).map(|s| schema_document(base_url, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_case_insensitively_with_and_without_urn() {
        let r = resolve(None, "USERNAME", None).unwrap();
        assert_eq!(r.attr.name, "userName");
        assert_eq!(r.schema, SchemaId::Core);
        let r = resolve(Some(USER_SCHEMA), "name", Some("GIVENNAME")).unwrap();
        assert_eq!(r.leaf().name, "givenName");
        let r = resolve(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
            "employeenumber",
            None,
        )
        .unwrap();
        assert_eq!(r.schema, SchemaId::Enterprise);
        assert_eq!(
            r.canonical_name(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
        );
        // Without URN, the extension is searched after the core schema.
        assert_eq!(
            resolve(None, "department", None).unwrap().schema,
            SchemaId::Enterprise
        );
        assert!(resolve(Some(USER_SCHEMA), "department", None).is_none());
        assert!(resolve(None, "nickName", None).is_none());
        assert!(resolve(None, "name", Some("nope")).is_none());
        assert!(resolve(Some("urn:x:y"), "userName", None).is_none());
    }

    #[test]
    fn metadata_matches_rfc() {
        let (_, id) = find_attribute(None, "id").unwrap();
        assert!(id.case_exact);
        assert_eq!(id.mutability, Mutability::ReadOnly);
        let (_, ext) = find_attribute(None, "externalId").unwrap();
        assert!(ext.case_exact);
        let (_, un) = find_attribute(None, "userName").unwrap();
        assert!(!un.case_exact && un.required);
        assert_eq!(un.returned, Returned::Always);
        let (_, emails) = find_attribute(None, "emails").unwrap();
        assert!(emails.multi_valued);
        assert!(!emails.sub("value").unwrap().case_exact);
        let (_, mgr) = find_attribute(None, "manager").unwrap();
        assert_eq!(
            mgr.sub("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
    }

    #[test]
    fn service_provider_config_advertises_only_what_exists() {
        let v = service_provider_config("https://x.test/scim/v2/");
        assert_eq!(v["patch"]["supported"], true);
        assert_eq!(v["filter"]["supported"], true);
        assert_eq!(v["filter"]["maxResults"], 200);
        for f in ["bulk", "sort", "changePassword", "etag"] {
            assert_eq!(v[f]["supported"], false, "{f}");
        }
        assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            v["meta"]["location"],
            "https://x.test/scim/v2/ServiceProviderConfig"
        );
        assert_eq!(v["schemas"][0], SERVICE_PROVIDER_CONFIG_SCHEMA);
    }

    #[test]
    fn resource_types_list_user_with_enterprise_extension_and_group() {
        let v = resource_types("https://x.test/scim/v2");
        assert_eq!(v["totalResults"], 2);
        assert_eq!(v["Resources"][1]["id"], "Group");
        assert_eq!(v["Resources"][1]["endpoint"], "/Groups");
        let rt = &v["Resources"][0];
        assert_eq!(rt["id"], "User");
        assert_eq!(rt["endpoint"], "/Users");
        assert_eq!(rt["schema"], USER_SCHEMA);
        assert_eq!(rt["schemaExtensions"][0]["schema"], ENTERPRISE_USER_SCHEMA);
        assert_eq!(rt["schemaExtensions"][0]["required"], false);
        assert_eq!(
            rt["meta"]["location"],
            "https://x.test/scim/v2/ResourceTypes/User"
        );
        assert!(resource_type_by_id("b", "user").is_some());
        assert!(resource_type_by_id("b", "group").is_some());
        assert!(resource_type_by_id("b", "Role").is_none());
    }

    #[test]
    fn schemas_describe_exactly_the_supported_set() {
        let v = schemas("https://x.test/scim/v2");
        assert_eq!(v["totalResults"], 3);
        assert_eq!(v["Resources"][2]["id"], crate::group::GROUP_SCHEMA);
        let user = &v["Resources"][0];
        assert_eq!(user["id"], USER_SCHEMA);
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "userName",
                "name",
                "displayName",
                "emails",
                "phoneNumbers",
                "active",
                "groups"
            ]
        );
        let name_subs: Vec<&str> = user["attributes"][1]["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            name_subs,
            [
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix"
            ]
        );
        assert_eq!(user["attributes"][0]["uniqueness"], "server");
        assert_eq!(user["attributes"][0]["required"], true);
        assert_eq!(user["attributes"][3]["multiValued"], true);
        let ent = &v["Resources"][1];
        assert_eq!(ent["id"], ENTERPRISE_USER_SCHEMA);
        let names: Vec<&str> = ent["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["employeeNumber", "department", "manager"]);
        assert_eq!(
            ent["meta"]["location"],
            format!("https://x.test/scim/v2/Schemas/{ENTERPRISE_USER_SCHEMA}")
        );
        assert!(schema_by_id("b", &USER_SCHEMA.to_uppercase()).is_some());
        assert!(schema_by_id("b", "urn:nope").is_none());
    }
}
