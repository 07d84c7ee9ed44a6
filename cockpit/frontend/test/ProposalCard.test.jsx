import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import ProposalCard from '../src/components/performance/ProposalCard.jsx';
import dashboard from './fixtures/dashboard.json';
import { apiError, decided } from './fakeService.js';

const [DISCOUNT, KIT] = dashboard.pending_proposals.items;

function renderCard(props) {
  const utils = render(
    <ul>
      <ProposalCard {...props} />
    </ul>,
  );
  return { ...utils, card: utils.container.querySelector('li') };
}

describe('ProposalCard', () => {
  it('shows the change, the expected impact and the experiment duration', () => {
    const { card } = renderCard({ proposal: DISCOUNT });
    expect(card.querySelector('.cp-proposal__title')).toHaveTextContent(
      'Alterar reactivation.max_discount_pct de 10 para 5: 10% → 5%',
    );
    expect(screen.getByText('Impacto esperado:').parentElement).toHaveTextContent(
      'Impacto esperado: -60% reincidência, -R$ 881 custo/mês',
    );
    expect(screen.getByTestId('proposal-experiment')).toHaveTextContent('Experimento: ~52 semanas (363 dias)');
  });

  it('writes values that are not percentages as they are', () => {
    renderCard({ proposal: KIT });
    expect(screen.getByTestId('proposal-change')).toHaveTextContent('KIT_A → KIT_B');
  });

  it('shows the experiment verdict when there is one, from the item or from the plan', () => {
    const { unmount } = renderCard({ proposal: { ...DISCOUNT, experiment_verdict: 'FITS' } });
    expect(screen.getByTestId('proposal-experiment')).toHaveTextContent(
      'Experimento: cabe no prazo de experimento, ~52 semanas (363 dias)',
    );
    unmount();
    renderCard({
      proposal: {
        ...DISCOUNT,
        experiment_verdict: undefined,
        experiment_plan: { verdict: 'LONGER_THAN_LIMIT', design: 'A/B por conta, 50/50' },
      },
    });
    expect(screen.getByTestId('proposal-experiment')).toHaveTextContent(
      'Experimento: mais longo que o prazo permitido, ~52 semanas (363 dias) — A/B por conta, 50/50',
    );
  });

  it('leaves the experiment out when nothing is known about it', () => {
    renderCard({ proposal: { ...DISCOUNT, experiment_duration_days: null, experiment_verdict: null } });
    expect(screen.queryByTestId('proposal-experiment')).toBeNull();
  });

  it('has no buttons for a key that may not approve', () => {
    renderCard({ proposal: DISCOUNT, canApprove: false });
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('approves: calls onApprove with the id and shows that it is sending', async () => {
    let finish;
    const onApprove = vi.fn(() => new Promise((resolve) => (finish = resolve)));
    renderCard({ proposal: DISCOUNT, canApprove: true, onApprove });
    await userEvent.click(screen.getByRole('button', { name: '✓ Aprovar' }));
    expect(onApprove).toHaveBeenCalledWith(2);
    expect(screen.getByText('Enviando…')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '✓ Aprovar' })).toBeDisabled();
    finish(decided(2, 'APPROVED'));
    expect(await screen.findByRole('button', { name: '✓ Aprovar' })).toBeEnabled();
    expect(screen.queryByText('Enviando…')).toBeNull();
  });

  it('asks a reason before rejecting', async () => {
    const onReject = vi.fn(async () => decided(1, 'REJECTED'));
    renderCard({ proposal: KIT, canApprove: true, onReject });
    await userEvent.click(screen.getByRole('button', { name: '✗ Rejeitar' }));
    await userEvent.click(screen.getByRole('button', { name: 'Confirmar rejeição' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Informe o motivo da rejeição.');
    expect(onReject).not.toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText('Motivo da rejeição'), '  custo do kit B acima do orçamento ');
    await userEvent.click(screen.getByRole('button', { name: 'Confirmar rejeição' }));
    expect(onReject).toHaveBeenCalledWith(1, 'custo do kit B acima do orçamento');
    expect(screen.queryByLabelText('Motivo da rejeição')).toBeNull();
  });

  it('cancels a rejection', async () => {
    const onReject = vi.fn();
    renderCard({ proposal: KIT, canApprove: true, onReject });
    await userEvent.click(screen.getByRole('button', { name: '✗ Rejeitar' }));
    await userEvent.click(screen.getByRole('button', { name: 'Cancelar' }));
    expect(screen.getByRole('button', { name: '✓ Aprovar' })).toBeInTheDocument();
    expect(onReject).not.toHaveBeenCalled();
  });

  it('shows a 409 as the conflict it is, with a way to reload', async () => {
    const onReload = vi.fn();
    const onApprove = vi.fn(async () => {
      throw apiError(409, 'proposal 2 is APPROVED; only PENDING_REVIEW can be approved');
    });
    renderCard({ proposal: DISCOUNT, canApprove: true, onApprove, onReload });
    await userEvent.click(screen.getByRole('button', { name: '✓ Aprovar' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveClass('cp-alert--conflict');
    expect(alert).toHaveTextContent(
      'Conflito: a proposta já não está pendente — outra pessoa a decidiu antes (proposal 2 is APPROVED; only PENDING_REVIEW can be approved).',
    );
    await userEvent.click(within(alert).getByRole('button', { name: 'Atualizar propostas' }));
    expect(onReload).toHaveBeenCalled();
  });

  it('shows other refusals with the API message', async () => {
    const onApprove = vi.fn(async () => {
      throw apiError(403, 'approver-e2e requested proposal 2 and cannot approve it');
    });
    renderCard({ proposal: DISCOUNT, canApprove: true, onApprove });
    await userEvent.click(screen.getByRole('button', { name: '✓ Aprovar' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Sem permissão: approver-e2e requested proposal 2 and cannot approve it',
    );
    expect(screen.getByRole('alert')).not.toHaveClass('cp-alert--conflict');
  });

  it('shows a decided proposal as the API answered it, without buttons', () => {
    const approved = decided(2, 'APPROVED', { approved_by: 'maria', approved_at: '2026-07-01T10:15:00' });
    const { unmount } = renderCard({ proposal: approved, canApprove: true });
    expect(screen.getByRole('status')).toHaveTextContent('Aprovada por maria em 01/07/2026 10:15');
    expect(screen.queryByRole('button')).toBeNull();
    unmount();
    const rejected = decided(1, 'REJECTED', {
      rejected_by: 'maria',
      rejected_at: '2026-07-01T10:16:00',
      rejection_reason: 'custo alto',
    });
    renderCard({ proposal: rejected, canApprove: true });
    expect(screen.getByRole('status')).toHaveTextContent('Rejeitada por maria em 01/07/2026 10:16: “custo alto”');
  });
});
