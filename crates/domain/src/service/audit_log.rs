//! Reading the audit log (organization managers).

use super::{Caller, Service};
use crate::audit::{AuditEvent, AuditFilter};
use crate::error::{Error, Result};
use crate::ids::OrgId;
use crate::page::{Page, PageRequest};
use crate::permissions::is_org_manager;

impl Service {
    /// The organization's audit entries matching `filter`, newest first (organization managers
    /// only). A page may hold fewer entries than asked while a cursor is returned.
    pub async fn list_audit_events(
        &self,
        caller: &Caller,
        org_id: &OrgId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let ctx = self.org_context(caller, org_id).await?;
        if !is_org_manager(&ctx.me) {
            return Err(Error::forbidden(
                "Only organization managers can read the audit log",
            ));
        }
        Ok(self
            .store
            .list_audit_events(org_id, filter, self.clock.now(), page)
            .await?)
    }
}
