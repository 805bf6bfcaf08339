//! Creates that a client may retry under an idempotency key: the first answer is kept with
//! the record it made, in the same transaction, and replayed to every retry of the same
//! request; the same key sent with another request is refused.

use jiff::Timestamp;
use roster_domain::{AccountSid, RuleError};
use roster_store::IdempotentAnswer;

use crate::{Directory, ServiceError};

/// A create sent with an idempotency key.
pub struct Idempotency<'a, T> {
    pub key: &'a str,
    /// A digest of the request (its target and body), to tell a retry from another request
    /// that reuses the key.
    pub fingerprint: Vec<u8>,
    /// Writes the answer the record gets, as it will be kept and replayed.
    pub render: &'a (dyn Fn(&T) -> Vec<u8> + Send + Sync),
}

impl<T> Idempotency<'_, T> {
    /// What to keep when `record` is created now.
    pub(crate) fn keep(&self, record: &T, at: Timestamp) -> IdempotentAnswer {
        IdempotentAnswer {
            key: self.key.to_owned(),
            fingerprint: self.fingerprint.clone(),
            answer: (self.render)(record),
            at,
        }
    }
}

/// What a create produced.
#[derive(Debug)]
pub enum Created<T> {
    /// The record it made.
    New(T),
    /// The answer first given to this request, which was sent before under the same key.
    Replayed(Vec<u8>),
}

impl Directory {
    /// The answer kept for a retry of this request, if any; refuses a key kept for another
    /// request.
    pub(crate) async fn replay<T>(
        &self,
        account: &AccountSid,
        idempotency: &Idempotency<'_, T>,
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        let kept = self
            .store
            .idempotent_answer(account, idempotency.key, self.clock.now())
            .await?;
        match kept {
            None => Ok(None),
            Some(kept) if kept.fingerprint == idempotency.fingerprint => Ok(Some(kept.answer)),
            Some(_) => Err(RuleError::IdempotencyKeyReused.into()),
        }
    }

    /// After a create clashed on its key: a concurrent request with the same key won the
    /// race, so its answer is there to replay.
    pub(crate) async fn replay_winner<T>(
        &self,
        account: &AccountSid,
        idempotency: Option<&Idempotency<'_, T>>,
    ) -> Result<Created<T>, ServiceError> {
        let Some(idempotency) = idempotency else {
            return Err(ServiceError::from(roster_store::StoreError::Contention));
        };
        match self.replay(account, idempotency).await? {
            Some(answer) => Ok(Created::Replayed(answer)),
            // Kept and expired between two statements: the request can simply be sent again.
            None => Err(ServiceError::from(roster_store::StoreError::Contention)),
        }
    }
}
